//! Persistence of the checklist record (being written).
