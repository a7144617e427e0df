//! Deterministic generator of a realistic Android WhatsApp chat export, for the parser benchmark.
//!
//! ```text
//! cargo run --release --example gen_export -- OUT.txt [--messages 200000] [--seed 42] [--format gb|us]
//! ```
//! `gb` (default): `dd/mm/yyyy, HH:mm - Author: text` (24 h); `us`: `m/d/yy, h:mm␣AM - …` with U+202F.
//! Content: a facility-operations group with a dozen authors (contact names, phone numbers, emoji, ` - ` in names),
//! Malay/English/Indonesian/Tamil/Chinese text, multi-line messages (incl. blank and date-like continuation lines),
//! photos/voice notes/videos/stickers/documents as `(file attached)` (some captioned on the next line),
//! `<Media omitted>`, system lines, edited and deleted markers, locations. Same arguments → byte-identical file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

/// xorshift64* — small, seeded, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const AUTHORS: [&str; 12] = [
    "Pn Rosnah Supervisor",
    "Siti Rahmah",
    "Ali Hassan",
    "Yanti Cleaner",
    "Raju Landscape",
    "Mr Tan (BM)",
    "Nurul Ain",
    "+60 12-718 2290",
    "Kak Ros 🌸",
    "Muthu - Vendor Aircond",
    "Mei Ling MO",
    "+60 11-2345 6789",
];

const TEXTS: [&str; 40] = [
    "Siap mop lobby blok A ✅",
    "Bin centre dah cuci, sampah semalam lori dah angkat",
    "Lobi C udah bersih bu, lantai sudah kering",
    "Started grass cutting near playground, finish by 12",
    "Toilet lvl 2 blk B choke, air naik",
    "Ok nanti sy bagitau Mr Tan",
    "Noted 👍",
    "Plumber coming 2.30pm for the toilet lvl 2 blk B",
    "JMB happy with the lobbies, good job all 👏",
    "Clock in blk B 8am",
    "Kak, chemical toilet dah habis, tak dapat cuci toilet lvl 1 blk A",
    "Ok petang ni sy hantar stok",
    "@Ali tolong cuci carpark B1 blk B lepas JMB visit",
    "Lampu koridor tingkat 6 blok B rosak, 3 batang",
    "Pintu pagar utama tak boleh kunci, motor rosak",
    "Pam air trip!! alarm bunyi kat pump room",
    "Lift no.2 stuck at lvl 7, no one inside",
    "Visitor car blocking fire lane at blk C",
    "Sudah sampai bu, mulai di blok C",
    "Rondaan tengah malam selesai, semua pintu berkunci",
    "Baik bu 🙏",
    "Tq semua, selamat berhujung minggu 🙏",
    "Reminder: pls submit timesheet today before 5pm",
    "Fogging pukul 6 petang, tolong tutup semua pintu stor",
    "Aircond lobby A bocor, air menitik atas lantai",
    "வேலை முடிந்தது, கழிவறை சுத்தம் செய்யப்பட்டது",
    "垃圾房已经清理好了",
    "Sampah sudah dibuang, tong sudah dicuci",
    "Corridor lights lvl 6 blk B, technician will come tmr morning",
    "Owner came, settled already 👍",
    "Morning shift on duty at guardhouse, 3 keys 2 walkie",
    "Going off now, night quiet, no incident",
    "Pump room morning check done, pressure 3.0 bar, both pumps auto",
    "Changed 6 LED at carpark B1",
    "Hari ni JMB inspection 3pm. Pls make sure lobby A sampai D siap sebelum 2pm ya",
    "OK",
    "On the way",
    "Dah siap kak",
    "Tolong check CCTV blok D, skrin gelap",
    "Lantai licin, signboard dah letak",
];

const CONTINUATIONS: [&str; 8] = [
    "1) Tandas L1-L3 ✅",
    "2) Lobi ✅",
    "3) Pantri L5 - belum",
    "2/3 siap, baki petang ni",
    "",
    "Terima kasih 🙏",
    "- blok A: ok\n- blok B: ok",
    "Next check 3pm",
];

const CAPTIONS: [&str; 5] = [
    "Pintu pagar utama Blok B rosak, tak boleh kunci",
    "Before / after",
    "Notice water cut Sat 9am-5pm, pls paste at every lift lobby",
    "Lobi dah siap",
    "Ni gambar bocor tu",
];

struct Out<W: Write> {
    w: W,
    us: bool,
}

impl<W: Write> Out<W> {
    fn header(&mut self, t: i64) -> std::io::Result<()> {
        // t = minutes since 2024-01-01 00:00 (proleptic, simple civil-from-days)
        let days = t.div_euclid(1440);
        let mins = t.rem_euclid(1440);
        let (y, m, d) = civil_from_days(days + 19_723); // 2024-01-01 = day 19723 since 1970-01-01
        let (h, mi) = (mins / 60, mins % 60);
        if self.us {
            let (h12, ampm) = match h {
                0 => (12, "AM"),
                1..=11 => (h, "AM"),
                12 => (12, "PM"),
                _ => (h - 12, "PM"),
            };
            write!(
                self.w,
                "{m}/{d}/{:02}, {h12}:{mi:02}\u{202f}{ampm} - ",
                y % 100
            )
        } else {
            write!(self.w, "{d:02}/{m:02}/{y}, {h:02}:{mi:02} - ")
        }
    }
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Write `messages` records (the first is the encryption notice) to `w`. Also used by `benches/export_parse.rs`.
pub fn write_export<W: Write>(
    w: W,
    messages: u64,
    seed: u64,
    us_format: bool,
) -> std::io::Result<()> {
    let mut out = Out { w, us: us_format };
    generate(&mut out, messages, seed)
}

fn generate<W: Write>(out: &mut Out<W>, messages: u64, seed: u64) -> std::io::Result<()> {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut t: i64 = 7 * 60;
    let mut seq = [0u32; 5];
    out.header(t)?;
    writeln!(
        out.w,
        "Messages and calls are end-to-end encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them. Tap to learn more."
    )?;
    for i in 1..messages {
        // Mostly working hours; occasionally jump to the next morning.
        t += r.below(25) as i64;
        if t.rem_euclid(1440) > 22 * 60 {
            t += 1440 - t.rem_euclid(1440) + 7 * 60 + r.below(60) as i64;
        }
        let day = t.div_euclid(1440);
        let (y, m, d) = civil_from_days(day + 19_723);
        let date = format!("{y}{m:02}{d:02}");
        out.header(t)?;
        let author = r.pick(&AUTHORS);
        let roll = r.below(1000);
        if roll < 8 {
            let other = r.pick(&AUTHORS);
            let sys = match r.below(5) {
                0 => format!("{author} added {other}"),
                1 => format!("{other} left"),
                2 => format!("Your security code with {other} changed. Tap to learn more."),
                3 => format!(
                    "{author} changed the subject from \"Ops {i}\" to \"Ops {}\"",
                    i + 1
                ),
                _ => format!("{other} joined using this group's invite link"),
            };
            writeln!(out.w, "{sys}")?;
            continue;
        }
        write!(out.w, "{author}: ")?;
        match roll {
            8..=109 => {
                seq[0] += 1;
                write!(out.w, "IMG-{date}-WA{:04}.jpg (file attached)", seq[0] % 10_000)?;
                if r.chance(20) {
                    write!(out.w, "\n{}", r.pick(&CAPTIONS))?;
                }
                writeln!(out.w)?;
            }
            110..=129 => {
                seq[1] += 1;
                writeln!(out.w, "PTT-{date}-WA{:04}.opus (file attached)", seq[1] % 10_000)?;
            }
            130..=137 => {
                seq[2] += 1;
                writeln!(out.w, "VID-{date}-WA{:04}.mp4 (file attached)", seq[2] % 10_000)?;
            }
            138..=145 => {
                seq[3] += 1;
                writeln!(out.w, "STK-{date}-WA{:04}.webp (file attached)", seq[3] % 10_000)?;
            }
            146..=150 => {
                seq[4] += 1;
                writeln!(out.w, "Quotation_{}.pdf (file attached)\nQuotation_{}", seq[4], seq[4])?;
            }
            151..=170 => writeln!(out.w, "<Media omitted>")?,
            171..=178 => writeln!(out.w, "This message was deleted")?,
            179..=181 => writeln!(
                out.w,
                "Menara Contoh - Pintu B\nJalan Contoh 12, 50450 Kuala Lumpur\nlocation: https://maps.google.com/?q=3.{:06},101.{:06}",
                r.below(1_000_000),
                r.below(1_000_000)
            )?,
            182..=199 => writeln!(out.w, "{} <This message was edited>", r.pick(&TEXTS))?,
            200..=259 => {
                write!(out.w, "{}", r.pick(&TEXTS))?;
                for _ in 0..1 + r.below(4) {
                    write!(out.w, "\n{}", r.pick(&CONTINUATIONS))?;
                }
                writeln!(out.w)?;
            }
            _ => writeln!(out.w, "{}", r.pick(&TEXTS))?,
        }
    }
    out.w.flush()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut path = None;
    let mut messages = 200_000u64;
    let mut seed = 42u64;
    let mut us = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let res: Result<(), String> = match a.as_str() {
            "--messages" => val("--messages").and_then(|v| {
                v.parse()
                    .map(|n| messages = n)
                    .map_err(|e| format!("--messages: {e}"))
            }),
            "--seed" => val("--seed").and_then(|v| {
                v.parse()
                    .map(|n| seed = n)
                    .map_err(|e| format!("--seed: {e}"))
            }),
            "--format" => val("--format").and_then(|v| {
                us = match v.as_str() {
                    "gb" => false,
                    "us" => true,
                    o => return Err(format!("--format: unknown {o:?} (gb|us)")),
                };
                Ok(())
            }),
            p if path.is_none() && !p.starts_with("--") => {
                path = Some(p.to_string());
                Ok(())
            }
            o => Err(format!("unexpected argument {o:?}")),
        };
        if let Err(e) = res {
            eprintln!("gen_export: {e}");
            return ExitCode::from(2);
        }
    }
    let Some(path) = path else {
        eprintln!("usage: gen_export OUT.txt [--messages N] [--seed S] [--format gb|us]");
        return ExitCode::from(2);
    };
    let file = match File::create(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("gen_export: {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = write_export(BufWriter::with_capacity(1 << 20, file), messages, seed, us) {
        eprintln!("gen_export: {path}: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!("gen_export: wrote {messages} messages to {path}");
    ExitCode::SUCCESS
}
