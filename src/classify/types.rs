//! Classification output types (the contract of `shared/spec/classification.md`). Pure data.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    TaskReport,
    IssueReport,
    IssueUpdate,
    IssueResolved,
    CheckIn,
    Instruction,
    Chatter,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::TaskReport,
        Kind::IssueReport,
        Kind::IssueUpdate,
        Kind::IssueResolved,
        Kind::CheckIn,
        Kind::Instruction,
        Kind::Chatter,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::TaskReport => "task_report",
            Kind::IssueReport => "issue_report",
            Kind::IssueUpdate => "issue_update",
            Kind::IssueResolved => "issue_resolved",
            Kind::CheckIn => "check_in",
            Kind::Instruction => "instruction",
            Kind::Chatter => "chatter",
        }
    }
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Done,
    InProgress,
    Blocked,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Done => "done",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Blocked => "blocked",
        }
    }
    pub fn parse(s: &str) -> Option<TaskStatus> {
        Some(match s {
            "done" => TaskStatus::Done,
            "in_progress" => TaskStatus::InProgress,
            "blocked" => TaskStatus::Blocked,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Cleaning,
    Security,
    Plumbing,
    Electrical,
    Lift,
    Hvac,
    Pest,
    Landscaping,
    Waste,
    Civil,
    Other,
}

impl Category {
    pub const ALL: [Category; 11] = [
        Category::Cleaning,
        Category::Security,
        Category::Plumbing,
        Category::Electrical,
        Category::Lift,
        Category::Hvac,
        Category::Pest,
        Category::Landscaping,
        Category::Waste,
        Category::Civil,
        Category::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Cleaning => "cleaning",
            Category::Security => "security",
            Category::Plumbing => "plumbing",
            Category::Electrical => "electrical",
            Category::Lift => "lift",
            Category::Hvac => "hvac",
            Category::Pest => "pest",
            Category::Landscaping => "landscaping",
            Category::Waste => "waste",
            Category::Civil => "civil",
            Category::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Urgent,
    High,
    Normal,
    Low,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }
    pub fn parse(s: &str) -> Option<Priority> {
        Some(match s {
            "urgent" => Priority::Urgent,
            "high" => Priority::High,
            "normal" => Priority::Normal,
            "low" => Priority::Low,
            _ => return None,
        })
    }
}

/// Where a message is about. Only keys found are set (and serialised).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Location {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
}

impl Location {
    pub fn is_empty(&self) -> bool {
        self.block.is_none() && self.level.is_none() && self.unit.is_none() && self.area.is_none()
    }
    fn keys(&self) -> [(&'static str, Option<&str>); 4] {
        [
            ("block", self.block.as_deref()),
            ("level", self.level.as_deref()),
            ("unit", self.unit.as_deref()),
            ("area", self.area.as_deref()),
        ]
    }
    /// Linking rule L3: two locations match when they share at least one key with the same value (case-insensitive)
    /// and no shared key differs.
    pub fn matches(&self, other: &Location) -> bool {
        let mut shared_equal = false;
        for ((_, a), (_, b)) in self.keys().into_iter().zip(other.keys()) {
            if let (Some(a), Some(b)) = (a, b) {
                if a.eq_ignore_ascii_case(b) {
                    shared_equal = true;
                } else {
                    return false;
                }
            }
        }
        shared_equal
    }
}

/// The classifier's verdict on one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub kind: Kind,
    /// Only for `task_report`.
    pub status: Option<TaskStatus>,
    /// `None` for chatter and when nothing indicates the trade.
    pub category: Option<Category>,
    pub location: Location,
    /// Only for `issue_report`.
    pub priority: Option<Priority>,
    pub repeat: bool,
    /// 0.0–1.0
    pub confidence: f32,
    /// Human-readable cues that decided, e.g. `"kind: 'bocor' → issue_report"`.
    pub cues: Vec<String>,
    /// The statistical layer's probability of each kind (in [`Kind::ALL`] order), so the records engine can weigh
    /// "update/resolved for an open ticket" against the first guess with the chat's open tickets in view. `None` for
    /// a manager's correction, a remembered correction and the rules-only classifier: their kind is final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind_scores: Option<[f32; 7]>,
}

impl Classification {
    /// The classifier's probability that the message is of `kind` (`None` when its kind is final).
    pub fn score_of(&self, kind: Kind) -> Option<f32> {
        let s = self.kind_scores?;
        let p = s[kind as usize];
        // Rules can override the statistical layer; the chosen kind is at least as likely as its confidence says.
        Some(if kind == self.kind {
            p.max(self.confidence)
        } else {
            p
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(block: Option<&str>, area: Option<&str>) -> Location {
        Location {
            block: block.map(str::to_string),
            area: area.map(str::to_string),
            ..Location::default()
        }
    }

    #[test]
    fn location_matching_follows_l3() {
        assert!(loc(Some("A"), None).matches(&loc(Some("a"), Some("lobby"))));
        assert!(!loc(Some("A"), None).matches(&loc(Some("B"), Some("lobby"))));
        assert!(!loc(Some("A"), None).matches(&loc(None, Some("lobby"))));
        assert!(!Location::default().matches(&Location::default()));
    }
}
