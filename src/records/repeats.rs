//! Repeated problems for reports: tickets at the same site (or, without a site, the same chat) with the same
//! category and matching location, each within `window_days` of another ticket of the group — whether or not the
//! messages said "again". This is wider than `repeat_of` (rule L4), which only follows the word.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::classify::types::{Category, Location};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketSummary {
    pub id: i64,
    pub site_id: Option<i64>,
    pub chat_id: i64,
    pub category: Option<Category>,
    pub location: Location,
    pub opened_at: DateTime<Utc>,
    /// The report said "again" / "lagi" / … (classification `repeat`).
    #[serde(default)]
    pub said_repeat: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepeatGroup {
    pub site_id: Option<i64>,
    /// Set when the tickets have no site.
    pub chat_id: Option<i64>,
    pub category: Category,
    /// Location of the group's first ticket.
    pub location: Location,
    /// Ticket ids, oldest first (at least two).
    pub tickets: Vec<i64>,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// How many of the reports said it was a repeat.
    pub said_repeat: usize,
}

/// (site, chat when there is no site, category).
type BucketKey = (Option<i64>, Option<i64>, Category);

fn locations_match(a: &Location, b: &Location) -> bool {
    a == b || a.matches(b)
}

fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

/// Groups of at least two tickets with the same site, category and matching location (equal, or L3 match),
/// linked pairwise by at most `window_days` between openings. Tickets without a category are ignored.
/// Groups are ordered by their first ticket.
pub fn repeated_problems(tickets: &[TicketSummary], window_days: i64) -> Vec<RepeatGroup> {
    let window = Duration::try_days(window_days.max(0)).unwrap_or(Duration::MAX);
    // Bucket by (scope, category).
    let mut buckets: BTreeMap<BucketKey, Vec<&TicketSummary>> = BTreeMap::new();
    for t in tickets {
        if let Some(c) = t.category {
            let scope = match t.site_id {
                Some(s) => (Some(s), None),
                None => (None, Some(t.chat_id)),
            };
            buckets.entry((scope.0, scope.1, c)).or_default().push(t);
        }
    }
    let mut out = Vec::new();
    for ((site_id, chat_id, category), mut ts) in buckets {
        ts.sort_by_key(|t| (t.opened_at, t.id));
        let n = ts.len();
        let mut parent: Vec<usize> = (0..n).collect();
        for j in 0..n {
            for i in (0..j).rev() {
                if ts[j].opened_at - ts[i].opened_at > window {
                    break;
                }
                if locations_match(&ts[i].location, &ts[j].location) {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    if a != b {
                        parent[b.max(a)] = a.min(b);
                    }
                }
            }
        }
        let mut groups: BTreeMap<usize, Vec<&TicketSummary>> = BTreeMap::new();
        for (k, t) in ts.iter().enumerate() {
            let root = find(&mut parent, k);
            groups.entry(root).or_default().push(t);
        }
        for (_, g) in groups {
            if g.len() < 2 {
                continue;
            }
            out.push(RepeatGroup {
                site_id,
                chat_id,
                category,
                location: g[0].location.clone(),
                tickets: g.iter().map(|t| t.id).collect(),
                first_at: g[0].opened_at,
                last_at: g[g.len() - 1].opened_at,
                said_repeat: g.iter().filter(|t| t.said_repeat).count(),
            });
        }
    }
    out.sort_by_key(|g| (g.first_at, g.tickets[0]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(
        id: i64,
        site: Option<i64>,
        cat: Category,
        area: &str,
        day: u32,
        said: bool,
    ) -> TicketSummary {
        TicketSummary {
            id,
            site_id: site,
            chat_id: 100 + site.unwrap_or(0),
            category: Some(cat),
            location: Location {
                area: Some(area.into()),
                ..Location::default()
            },
            opened_at: Utc.with_ymd_and_hms(2026, 11, day, 8, 0, 0).unwrap(),
            said_repeat: said,
        }
    }

    #[test]
    fn groups_same_site_category_location_within_window() {
        let ts = vec![
            t(1, Some(1), Category::Plumbing, "pump room", 1, false),
            t(2, Some(1), Category::Plumbing, "pump room", 5, false), // no "again", still a repeat
            t(3, Some(1), Category::Plumbing, "pump room", 9, true),
            t(4, Some(2), Category::Plumbing, "pump room", 2, false), // other site
            t(5, Some(1), Category::Electrical, "pump room", 3, false), // other category
            t(6, Some(1), Category::Plumbing, "lobby", 4, false),     // other location
            t(7, Some(1), Category::Plumbing, "pump room", 28, false), // outside the window of #3
        ];
        let g = repeated_problems(&ts, 7);
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!(g[0].tickets, vec![1, 2, 3]);
        assert_eq!(g[0].said_repeat, 1);
        assert_eq!(g[0].site_id, Some(1));
        // With a 30-day window ticket 7 joins as well.
        let g = repeated_problems(&ts, 30);
        assert_eq!(g[0].tickets, vec![1, 2, 3, 7]);
        // With a 3-day window only nothing links (4 days apart).
        assert!(repeated_problems(&ts, 3).is_empty());
    }

    #[test]
    fn location_matching_follows_l3() {
        let mut a = t(1, Some(1), Category::Lift, "lobby", 1, false);
        a.location = Location {
            block: Some("B".into()),
            level: Some("7".into()),
            ..Location::default()
        };
        let mut b = t(2, Some(1), Category::Lift, "lobby", 2, true);
        b.location = Location {
            block: Some("B".into()),
            ..Location::default()
        };
        let mut c = t(3, Some(1), Category::Lift, "lobby", 3, false);
        c.location = Location {
            block: Some("C".into()),
            ..Location::default()
        };
        let g = repeated_problems(&[a, b, c], 14);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].tickets, vec![1, 2]);
    }
}
