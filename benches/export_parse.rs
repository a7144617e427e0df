//! Parser throughput on the generated 200,000-message Android export (`examples/gen_export.rs`).
//!
//! `cargo bench --bench export_parse` — the file is generated (seed 42) into `target/` unless
//! `TAPAK_EXPORT_BENCH_FILE` names an existing one. Compare with `benches/node/bench.mjs` on the same file.

use std::fs::File;
use std::io::{BufWriter, Cursor};
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tapak::ingest::export::parser::{parse_seekable, ParseOptions};

#[allow(dead_code)]
#[path = "../examples/gen_export.rs"]
mod gen_export;

const MESSAGES: u64 = 200_000;

fn bench_file() -> PathBuf {
    if let Some(p) = std::env::var_os("TAPAK_EXPORT_BENCH_FILE") {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/export-bench-200k.txt"
    ));
    if !p.exists() {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).expect("create target dir");
        }
        let f = File::create(&p).expect("create bench file");
        gen_export::write_export(BufWriter::new(f), MESSAGES, 42, false)
            .expect("generate bench file");
    }
    p
}

fn parse(c: &mut Criterion) {
    let path = bench_file();
    let bytes = std::fs::read(&path).expect("read bench file");
    let expected = parse_seekable(Cursor::new(&bytes), None, ParseOptions::default())
        .expect("parse")
        .count();
    eprintln!(
        "{}: {} bytes, {expected} records",
        path.display(),
        bytes.len()
    );
    let mut g = c.benchmark_group("export_parse");
    g.sample_size(10);
    g.throughput(Throughput::Elements(expected as u64));
    // Same work as whatsapp-chat-parser's parseString on an in-memory string: both passes, every record.
    g.bench_function("in_memory", |b| {
        b.iter(|| {
            let p =
                parse_seekable(Cursor::new(&bytes), None, ParseOptions::default()).expect("parse");
            let mut n = 0;
            for r in p {
                n += usize::from(r.expect("record").line > 0);
            }
            assert_eq!(n, expected);
        })
    });
    // From the file (through BufReader, both passes).
    g.bench_function("from_file", |b| {
        b.iter(|| {
            let f = File::open(&path).expect("open");
            let p = parse_seekable(f, None, ParseOptions::default()).expect("parse");
            let mut n = 0;
            for r in p {
                n += usize::from(r.expect("record").line > 0);
            }
            assert_eq!(n, expected);
        })
    });
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
