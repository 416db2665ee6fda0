//! TODO(helper)
pub struct Theme;
