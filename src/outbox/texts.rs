//! Reminder texts in English and Malay.

use serde::{Deserialize, Serialize};

/// A language reminder texts are written in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    #[default]
    En,
    Ms,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ms => "ms",
        }
    }

    /// `en` / `ms` (any case; `my`, `bm`, `malay` and `english` too), else `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" | "english" => Some(Lang::En),
            "ms" | "my" | "bm" | "malay" => Some(Lang::Ms),
            _ => None,
        }
    }
}
