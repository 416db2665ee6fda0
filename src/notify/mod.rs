//! Notifications (issue 20): telling the people who are not at the laptop.
//! (Temporary stand-in for the delivery side, replaced on merge.)

pub mod compose;

/// One message for one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub seq: u64,
    pub title: String,
    pub text: String,
    pub body: serde_json::Value,
    pub at: std::time::SystemTime,
}
