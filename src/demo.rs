//! `serve --demo`: fills an empty database with a small living condo — two WhatsApp groups, a few days of reports,
//! issues and photos — so a newcomer sees the system working at once. Runs through the same store paths as real ingest.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::ingest::model::{
    ChatRef, EvidenceKind, InboundMessage, MediaFetch, MediaRef, MessageType, SenderRef, Source,
};
use crate::pipeline::Pipeline;
use crate::store;

pub const DEMO_USER: &str = "admin";
pub const DEMO_PASSWORD: &str = "tapak-demo";

struct Line {
    day: i64,
    time: (u32, u32),
    chat: usize,
    who: usize,
    text: &'static str,
    photos: u32,
}

const CHATS: [(&str, &str); 2] = [
    ("120363400000000001@g.us", "Seri Mutiara Cleaning Team"),
    ("120363400000000002@g.us", "Seri Mutiara Security & M&E"),
];

const PEOPLE: [(&str, &str); 7] = [
    ("60123456701", "Siti Rahmah"),
    ("60123456702", "Kumar Cleaner"),
    ("60198765403", "Tan Wei Ling (Manager)"),
    ("60167654302", "Rajesh Security"),
    ("60133334405", "Farid Hakim"),
    ("601123456704", "Muthu - Vendor Aircond"),
    ("60124445566", "Ahmad Technician"),
];

fn lines() -> Vec<Line> {
    let l = |day, time, chat, who, text, photos| Line {
        day,
        time,
        chat,
        who,
        text,
        photos,
    };
    vec![
        l(-2, (7, 2), 1, 3, "Clock in guardhouse 7am, shift start", 0),
        l(-2, (7, 45), 0, 0, "Good morning all 🙏", 0),
        l(-2, (8, 10), 0, 0, "Siap mop lobi blok A ✅", 2),
        l(-2, (8, 40), 0, 1, "Started cleaning Block B lift lobby", 0),
        l(-2, (9, 20), 0, 1, "Block B lift lobby done", 1),
        l(
            -2,
            (10, 5),
            1,
            4,
            "Lift B stuck at level 5, no one inside",
            1,
        ),
        l(-2, (10, 9), 1, 2, "@Ahmad pls check lift B now", 0),
        l(-2, (10, 30), 1, 6, "Lift tech otw, ETA 30 min", 0),
        l(-2, (11, 35), 1, 6, "Lift B ok already, running normal", 1),
        l(-2, (11, 40), 1, 2, "Noted, thanks Ahmad 👍", 0),
        l(
            -2,
            (14, 15),
            0,
            0,
            "Tandas aras 2 blok A tersumbat, air melimpah",
            1,
        ),
        l(
            -2,
            (15, 0),
            1,
            3,
            "Checkpoint 3 clear, carpark B1 all ok",
            0,
        ),
        l(
            -2,
            (19, 0),
            1,
            4,
            "Night shift handover to Farid, all ok",
            0,
        ),
        l(-1, (7, 0), 1, 4, "Clock in pondok guard 0700", 0),
        l(
            -1,
            (8, 5),
            0,
            0,
            "Done cleaning Block A lobby and corridor",
            2,
        ),
        l(-1, (8, 30), 0, 1, "Cannot clean pool today, raining", 0),
        l(-1, (9, 10), 0, 1, "Block B lift lobby done", 0),
        l(
            -1,
            (9, 12),
            1,
            5,
            "Aircon lobby C not cold, will check compressor after lunch",
            0,
        ),
        l(
            -1,
            (10, 0),
            0,
            2,
            "Pls clean block C lobby before 10am, management visit",
            0,
        ),
        l(-1, (10, 45), 0, 0, "Lobby C done boss", 1),
        l(
            -1,
            (13, 20),
            1,
            6,
            "Water pump failure at pump room Block A, no water level 10-15",
            1,
        ),
        l(-1, (13, 25), 1, 2, "Urgent pls, residents complaining", 0),
        l(-1, (15, 50), 1, 6, "Pump repaired, running normal", 1),
        l(
            -1,
            (17, 30),
            0,
            0,
            "Bin centre full, lori sampah tak datang lagi",
            1,
        ),
        l(
            -1,
            (22, 10),
            1,
            3,
            "Patrol round 2 done, all checkpoints ok",
            0,
        ),
        l(0, (7, 1), 1, 3, "Clock in guardhouse, day shift", 0),
        l(0, (7, 50), 0, 1, "Started mopping Block B staircase", 0),
        l(0, (8, 20), 0, 0, "Siap sapu taman permainan", 1),
        l(
            0,
            (9, 0),
            1,
            4,
            "Corridor light level 3 Block C rosak, 2 lampu",
            1,
        ),
        l(0, (9, 15), 1, 2, "Any update on the aircon lobby C?", 0),
        l(
            0,
            (9, 40),
            1,
            5,
            "Waiting spare part for aircon, tomorrow only can fix",
            0,
        ),
        l(
            0,
            (10, 30),
            0,
            2,
            "Pls check bin centre again before lunch, residents complaining",
            0,
        ),
        l(
            0,
            (11, 5),
            1,
            4,
            "Water pump failure again!! Block A level 12 no water",
            1,
        ),
        l(0, (11, 10), 0, 0, "Ok noted", 0),
    ]
}

/// Problems reported on earlier days of the month, each with who reports it, who fixes it and the fix.
const HISTORY_ISSUES: [(&str, usize, usize, &str); 6] = [
    (
        "Lampu koridor aras 4 blok B rosak",
        4,
        6,
        "Lampu koridor blok B dah tukar, ok",
    ),
    (
        "Aircond guardhouse tak sejuk",
        3,
        5,
        "Aircond guardhouse settled, gas topped up",
    ),
    (
        "Paip bocor tandas aras 3 blok C",
        0,
        6,
        "Paip tandas blok C dah repair",
    ),
    (
        "Autogate main entrance stuck half open",
        3,
        6,
        "Autogate repaired, running normal",
    ),
    (
        "Aircon lobby A bocor air",
        4,
        5,
        "Aircon lobby A drain pipe cleared, no more leak",
    ),
    (
        "Sampah tak kutip blok A sejak semalam",
        0,
        2,
        "Lori sampah dah datang, bin centre clear",
    ),
];

/// A month of ordinary days before the story's last three: morning cleaning reports (Block A every day except one
/// missed, Block B without a photo now and then) and a problem every third day, fixed a few hours or a day later.
fn history() -> Vec<Line> {
    let mut out = Vec::new();
    for day in -30i64..=-3 {
        let k = (-day) as u32;
        if day != -9 {
            out.push(Line {
                day,
                time: (8, k % 9),
                chat: 0,
                who: 0,
                text: if k.is_multiple_of(2) {
                    "Siap mop lobi blok A"
                } else {
                    "Done cleaning Block A lobby"
                },
                photos: 1,
            });
        }
        out.push(Line {
            day,
            time: (9, 10 + k % 20),
            chat: 0,
            who: 1,
            text: "Block B lift lobby done",
            photos: u32::from(!k.is_multiple_of(5)),
        });
        if k.is_multiple_of(3) {
            let (text, by, fixer, fix) = HISTORY_ISSUES[(k as usize / 3) % HISTORY_ISSUES.len()];
            out.push(Line {
                day,
                time: (10, 5 + k % 40),
                chat: 1,
                who: by,
                text,
                photos: 1,
            });
            // Every other fix comes the next morning: past a one-day target now and then.
            let (fix_day, fix_time) = if k.is_multiple_of(2) {
                (day, (14, 20))
            } else {
                (day + 1, (11, 15))
            };
            out.push(Line {
                day: fix_day,
                time: fix_time,
                chat: 1,
                who: fixer,
                text: fix,
                photos: 1,
            });
        }
    }
    out.sort_by_key(|l| (l.day, l.time));
    out
}

/// The story's site and its schedules of expected work: the Block A mop is reported every day (missed today once
/// its hour passes), Block C before the management visit came late yesterday and was missed the day before, Block B
/// came without its photo yesterday, and the bin centre wash-down is never reported (missed every day).
const SITE: &str = "Seri Mutiara Residences";
const MANAGER: (&str, &str) = ("60198765403", "Tan Wei Ling");

fn demo_schedules(first_day: NaiveDate, tz: Tz) -> Vec<crate::schedule::ScheduleSpec> {
    use crate::classify::types::Location;
    use crate::schedule::{Assignee, Person, ScheduleSpec};
    let person = |i: usize| {
        Assignee::Person(Person {
            name: Some(PEOPLE[i].1.to_string()),
            phone: PEOPLE[i].0.to_string(),
            language: None,
        })
    };
    let at = |h: u32, m: u32, rule: &str| {
        format!(
            "DTSTART;TZID={}:{}T{h:02}{m:02}00\nRRULE:{rule}",
            tz.name(),
            first_day.format("%Y%m%d")
        )
    };
    let spec = |name: &str,
                block: Option<&str>,
                area: Option<&str>,
                who: usize,
                rrule: String,
                window: i64| ScheduleSpec {
        name: name.into(),
        site: Some(SITE.into()),
        category: "cleaning".into(),
        location: Location {
            block: block.map(str::to_string),
            area: area.map(str::to_string),
            ..Location::default()
        },
        assignees: vec![person(who)],
        chat: Some(CHATS[0].1.into()),
        rrule,
        window_minutes: window,
        photo_required: true,
        remind_after_minutes: Some(15),
        escalate_after_minutes: Some(45),
        escalate_to: vec![Person {
            name: Some(MANAGER.1.into()),
            phone: MANAGER.0.into(),
            language: None,
        }],
        checkpoints: vec![],
    };
    vec![
        spec(
            "Block A lobby: morning mop",
            Some("A"),
            None,
            0,
            at(8, 0, "FREQ=DAILY"),
            60,
        ),
        spec(
            "Block C lobby: before 10 am",
            Some("C"),
            None,
            0,
            at(9, 0, "FREQ=DAILY"),
            60,
        ),
        spec(
            "Block B lift lobby",
            Some("B"),
            None,
            1,
            at(8, 30, "FREQ=DAILY"),
            90,
        ),
        // Never reported in the story: missed every day once its hour has passed.
        spec(
            "Bin centre wash-down",
            None,
            Some("bin centre"),
            1,
            at(16, 0, "FREQ=DAILY"),
            60,
        ),
        spec(
            "Playground sweep",
            None,
            Some("playground"),
            0,
            at(8, 0, "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
            120,
        ),
    ]
}

/// A simple but real JPEG "site photo": wall and floor, a door, a stain, deterministic per seed.
pub fn demo_photo(seed: u32) -> Vec<u8> {
    let (w, h) = (640u32, 480u32);
    let s = seed.wrapping_mul(2654435761);
    let wall = [
        (150 + (s % 80)) as u8,
        (140 + (s / 7 % 80)) as u8,
        (120 + (s / 13 % 90)) as u8,
    ];
    let door_x = 80 + (s % 400);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let floor = y > h * 2 / 3;
        let mut p = if floor {
            let t = ((x / 40 + y / 40) % 2) as u8;
            [90 + t * 30, 85 + t * 30, 80 + t * 25]
        } else {
            [
                wall[0].saturating_sub((y / 8) as u8),
                wall[1].saturating_sub((y / 9) as u8),
                wall[2].saturating_sub((y / 10) as u8),
            ]
        };
        if !floor && x >= door_x && x < door_x + 120 && y > 90 {
            p = [100, 60 + (s % 40) as u8, 30];
        }
        let (cx, cy) = (((s >> 3) % w) as i64, ((s >> 11) % (h / 2)) as i64 + 60);
        let d = (x as i64 - cx).pow(2) + (y as i64 - cy).pow(2);
        if d < 900 {
            p = [60, 55, 50];
        }
        image::Rgb(p)
    });
    let mut out = Vec::new();
    let _ = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82).encode_image(&img);
    out
}

/// The story's last day (its `day`, 0) and the time of that day's first line.
fn last_day_start(lines: &[Line]) -> (i64, (u32, u32)) {
    let last_day = lines.iter().map(|l| l.day).max().unwrap_or(0);
    let first = lines
        .iter()
        .filter(|l| l.day == last_day)
        .map(|l| l.time)
        .min()
        .unwrap_or((0, 0));
    (last_day, first)
}

/// The local date the story's last day falls on: today once today's first line is in the past, so "today" on the
/// dashboard already shows the morning's reports (lines still ahead of `now` are left out); before that, yesterday,
/// so the story ends with a full day.
fn story_today(lines: &[Line], now: DateTime<Utc>, tz: Tz) -> NaiveDate {
    let (last_day, first) = last_day_start(lines);
    let mut today = now.with_timezone(&tz).date_naive();
    while let Some(t) = (today + Duration::days(last_day))
        .and_hms_opt(first.0, first.1, 0)
        .and_then(|t| tz.from_local_datetime(&t).earliest())
    {
        if t.with_timezone(&Utc) <= now {
            break;
        }
        today -= Duration::days(1);
    }
    today
}

/// Loads the demo if the database has no messages yet; creates the demo login if there are no users.
pub async fn load(svc: &Arc<Pipeline>) -> anyhow::Result<()> {
    let (messages, users) = svc
        .db
        .read(|c| Ok((store::messages::count(c)?, store::users::count(c)?)))
        .await?;
    if users == 0 {
        let hash =
            tokio::task::spawn_blocking(|| crate::auth::hash_password(DEMO_PASSWORD)).await??;
        svc.db
            .write(move |tx| {
                store::users::create(tx, DEMO_USER, "admin", &hash)?;
                store::events::append(
                    tx,
                    "demo",
                    "user.created",
                    "user",
                    None,
                    &serde_json::json!({"name": DEMO_USER}),
                )?;
                Ok(())
            })
            .await?;
        eprintln!("demo login: user \"{DEMO_USER}\", password \"{DEMO_PASSWORD}\" (change it with `tapak user passwd {DEMO_USER}`)");
    }
    if messages > 0 {
        tracing::info!("database already has messages; demo data not loaded");
        return Ok(());
    }
    let tz = svc.tz;
    let (mut story, now) = (lines(), svc.clock.now());
    let today = story_today(&story, now, tz);
    story.splice(0..0, history());
    let mut photo_seed = 1u32;
    let mut pending_photos: Vec<(i64, u32, usize)> = Vec::new();
    let mut batch = Vec::new();
    for (i, line) in story.into_iter().enumerate() {
        let date = today + Duration::days(line.day);
        let Some(local) = date.and_hms_opt(line.time.0, line.time.1, 0) else {
            continue;
        };
        let Some(at) = tz.from_local_datetime(&local).earliest() else {
            continue;
        };
        let sent_at = at.with_timezone(&Utc);
        if sent_at > now {
            continue;
        }
        let (phone, name) = PEOPLE[line.who];
        let (chat_id, chat_name) = CHATS[line.chat];
        let media: Vec<MediaRef> = (0..line.photos)
            .map(|k| MediaRef {
                kind: EvidenceKind::Photo,
                mime: Some("image/jpeg".into()),
                sha256: None,
                filename: Some(format!(
                    "IMG-{}-WA{:04}.jpg",
                    date.format("%Y%m%d"),
                    i * 3 + k as usize
                )),
                fetch: MediaFetch::ExportFile {
                    filename: format!("demo-{i}-{k}.jpg"),
                },
            })
            .collect();
        batch.push(InboundMessage {
            source: Source::Waha,
            source_message_id: format!("demo-{}-{i}", date.format("%Y%m%d")),
            chat: ChatRef {
                external_id: chat_id.into(),
                name: Some(chat_name.into()),
                is_group: true,
            },
            sender: Some(SenderRef {
                external_id: phone.into(),
                phone: Some(phone.into()),
                display_name: Some(name.into()),
            }),
            from_me: false,
            sent_at,
            msg_type: if media.is_empty() {
                MessageType::Text
            } else {
                MessageType::Media
            },
            source_type: if media.is_empty() {
                "chat".into()
            } else {
                "image".into()
            },
            text: Some(line.text.to_string()),
            reply_to: None,
            forwarded: false,
            edited: false,
            deleted: false,
            media,
            reaction: None,
            location: None,
        });
    }
    let msgs = batch.clone();
    let stored: Vec<Option<i64>> = svc
        .db
        .write(move |tx| {
            let site = store::chats::site_by_name(tx, SITE)?;
            let mut out = store::ingest::DeliveryOutcome::default();
            let mut ids = Vec::new();
            for m in &msgs {
                ids.push(store::ingest::store_message(tx, m, None, &mut out)?);
            }
            for (ext, _) in CHATS {
                if let Some(id) = store::chats::id_of_external(tx, ext)? {
                    store::chats::set_site(tx, id, Some(site))?;
                }
            }
            store::events::append(
                tx,
                "demo",
                "demo.loaded",
                "database",
                None,
                &serde_json::json!({"messages": ids.len()}),
            )?;
            Ok(ids)
        })
        .await?;
    for (m, id) in batch.iter().zip(stored) {
        let Some(mid) = id else { continue };
        for k in 0..m.media.len() {
            pending_photos.push((mid, photo_seed, k));
            photo_seed += 1;
        }
    }
    for (mid, seed, k) in pending_photos {
        let bytes = demo_photo(seed);
        let file = crate::evidence::fetch::analyze_and_store(svc, bytes, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("storing a demo photo")?;
        svc.db
            .write(move |tx| {
                let eid = store::evidence::id_at(tx, mid, k as i64)?;
                store::evidence::mark_ready(tx, eid, &file)?;
                Ok(())
            })
            .await?;
    }
    // File the messages into tickets and tasks now, so the schedules below are judged against them from the
    // scheduler's first tick.
    crate::pipeline::drain(svc).await?;
    add_schedules_and_vendor(svc, today + Duration::days(-2)).await?;
    svc.wake.process.notify_one();
    tracing::info!("demo data loaded");
    Ok(())
}

/// The schedules (from the story's first full day, so the last three days have their occurrences) and the aircon
/// vendor, with its technician as a member.
async fn add_schedules_and_vendor(svc: &Arc<Pipeline>, first_day: NaiveDate) -> anyhow::Result<()> {
    let tz = svc.tz;
    let from_ms = store::day_start_ms(first_day, tz).context("the demo's first day")?;
    let mut rows = Vec::new();
    for spec in demo_schedules(first_day, tz) {
        spec.check(tz)
            .map_err(|e| anyhow::anyhow!("demo schedule {:?}: {e}", spec.name))?;
        rows.push(spec.normalized());
    }
    let chat_ext = CHATS[0].0;
    let vendor_phone = PEOPLE[5].0;
    svc.db
        .write(move |tx| {
            let site = store::chats::site_by_name(tx, SITE)?;
            let chat = store::chats::id_of_external(tx, chat_ext)?;
            for spec in rows {
                let row = store::schedules::ScheduleRow {
                    spec,
                    site_id: Some(site),
                    chat_id: chat,
                    route: None,
                    audience: None,
                };
                let id = store::schedules::insert(tx, &row, from_ms)?;
                store::events::append(
                    tx,
                    "demo",
                    "schedule.created",
                    "schedule",
                    Some(&id.to_string()),
                    &serde_json::to_value(&row.spec)?,
                )?;
            }
            let vendor = store::chats::create_vendor(tx, "CoolAir Services", Some("hvac"))?;
            if let Some(p) = store::people::lookup(tx, vendor_phone)? {
                store::people::update(tx, p, None, None, Some(Some(vendor)))?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_story_ends_today_once_the_morning_has_begun() {
        let tz: Tz = "Asia/Kuala_Lumpur".parse().unwrap();
        let at = |h, m| {
            tz.with_ymd_and_hms(2026, 12, 7, h, m, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let (_, first) = last_day_start(&lines());
        // Before the day's first report the story ends yesterday, with a full day.
        assert_eq!(
            story_today(&lines(), at(first.0, first.1) - Duration::minutes(1), tz),
            today - Duration::days(1)
        );
        // From the first report on, today shows the morning so far (later lines are left out when inserting).
        assert_eq!(story_today(&lines(), at(first.0, first.1), tz), today);
        assert_eq!(story_today(&lines(), at(10, 0), tz), today);
        assert_eq!(story_today(&lines(), at(23, 59), tz), today);
    }
}
