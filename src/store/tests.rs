//! Table-driven tests of the reducer and the derived views.
