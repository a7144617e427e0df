//! Classifier throughput: `cargo bench --bench classify`. Target: ≥ 100,000 messages/s on one core.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tapak::classify::Classifier;

fn messages() -> Vec<String> {
    let raw = include_str!("../tests/fixtures/corpus/messages.dev.jsonl");
    raw.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_string))
        .collect()
}

fn bench_classify(c: &mut Criterion) {
    let msgs = messages();
    let classifier = Classifier::new();
    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.bench_function("dev_corpus_400", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for m in &msgs {
                n += classifier.classify(std::hint::black_box(m)).cues.len();
            }
            n
        })
    });
    g.finish();
    c.bench_function("classifier_new", |b| b.iter(Classifier::new));
}

criterion_group!(benches, bench_classify);
criterion_main!(benches);
