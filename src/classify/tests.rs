//! Behaviour tests of the classifier as a whole (module-level unit tests live next to each part).

use std::sync::LazyLock;

use super::*;
use crate::classify::types::{Priority, TaskStatus};

static C: LazyLock<Classifier> = LazyLock::new(Classifier::new);

const DEV: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/corpus/messages.dev.jsonl"
));
const DEV2: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/corpus/messages.dev2.jsonl"
));
const HELDOUT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/classifier/heldout.jsonl"
));
const HOLDOUT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/corpus/holdout.jsonl"
));
const HOLDOUT2: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/corpus/holdout2.jsonl"
));

fn c(text: &str) -> Classification {
    C.classify(text)
}

#[test]
fn classifier_is_send_and_sync_and_bundled_assets_load() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Classifier>();
    assert!(Classifier::try_new().is_ok());
    assert!(!VERSION.is_empty());
}

#[test]
fn cross_validated_dev_scores_stay_above_measured_levels() {
    let items = Labelled::parse_jsonl(DEV).expect("dev corpus parses");
    assert_eq!(items.len(), 400);
    let r = cross_validate(&items, 5);
    // measured: kind macro-F1 0.936, category 0.98, priority 0.89 (5-fold, test fold excluded from training)
    assert!(
        r.kind_macro_f1 >= 0.90,
        "kind macro-F1 {:.3}\n{r}",
        r.kind_macro_f1
    );
    assert!(
        r.category.accuracy >= 0.94,
        "category {:.3}\n{r}",
        r.category.accuracy
    );
    assert!(
        r.priority.accuracy >= 0.82,
        "priority {:.3}\n{r}",
        r.priority.accuracy
    );
    assert!(
        r.location_block.f1 >= 0.95 && r.location_level.f1 >= 0.93 && r.location_area.f1 >= 0.95,
        "{r}"
    );
}

#[test]
fn holdout_scores_meet_the_targets() {
    let items = Labelled::parse_jsonl(HOLDOUT).expect("holdout parses");
    let r = evaluate(&C, &items);
    assert!(r.kind_macro_f1 >= 0.90, "{r}");
    assert!(r.category.accuracy >= 0.85, "{r}");
    assert!(r.priority.accuracy >= 0.75, "{r}");
    for f in [&r.location_block, &r.location_level, &r.location_area] {
        assert!(f.f1 >= 0.85, "{r}");
    }
}

#[test]
fn second_holdout_scores_meet_the_targets() {
    // holdout2 was written after all tuning and scored once before any further change.
    let items = Labelled::parse_jsonl(HOLDOUT2).expect("holdout2 parses");
    let r = evaluate(&C, &items);
    assert!(r.kind_macro_f1 >= 0.90, "{r}");
    assert!(r.category.accuracy >= 0.85, "{r}");
    assert!(r.priority.accuracy >= 0.75, "{r}");
    for f in [&r.location_block, &r.location_level, &r.location_area] {
        assert!(f.f1 >= 0.85, "{r}");
    }
}

/// Issue 17's measurement: the model trained without the 300 dev2 messages (the old 400 + train-extra), scored on
/// dev2 (the development set the tuning looked at) and on `heldout.jsonl` (written before any tuning, never tuned
/// against, never trained on: the out-of-sample number). Prints kind macro-F1 with per-kind F1, priority accuracy on
/// issue reports and task status / category / location F1; the floors are the measured levels (issue 17's targets
/// are kind ≥ 0.92, priority ≥ 0.80, status ≥ 0.90, category ≥ 0.92, location ≥ 0.95).
#[test]
fn scores_on_dev2_and_the_held_out_set_without_training_on_them() {
    let c = Classifier::trained_without(&[TrainingSource::Dev2Messages]).expect("bundled data");
    let dev2 = Labelled::parse_jsonl(DEV2).expect("dev2 parses");
    let heldout = Labelled::parse_jsonl(HELDOUT).expect("heldout parses");
    assert_eq!((dev2.len(), heldout.len()), (300, 200));
    let trained: std::collections::HashSet<String> =
        bundled_training_data(&[TrainingSource::Dev2Messages])
            .expect("bundled data")
            .into_iter()
            .map(|t| t.text.trim().to_lowercase())
            .collect();
    // A greeting of a few characters ("🙏🙏🙏", "早上好", "辛苦了大家") is everyone's: two held-out ones match lines
    // train-extra.txt already had. Every longer message must be unseen.
    for it in dev2
        .iter()
        .chain(&heldout)
        .filter(|it| it.text.trim().chars().count() > 5)
    {
        assert!(
            !trained.contains(&it.text.trim().to_lowercase()),
            "{} is in the training data",
            it.id
        );
    }
    // (set, kind macro-F1, priority, status, category, location) floors: today's measured level
    for (name, items, floor) in [
        (
            "dev2 (tuned against)",
            &dev2,
            [0.94, 0.89, 0.92, 0.95, 0.97],
        ),
        (
            "heldout (out of sample)",
            &heldout,
            [0.92, 0.82, 0.80, 0.92, 0.95],
        ),
    ] {
        let r = evaluate(&c, items);
        println!("== {name}\n{r}");
        let got = [
            r.kind_macro_f1,
            r.priority.accuracy,
            r.status.accuracy,
            r.category.accuracy,
            r.location.f1,
        ];
        for (what, (g, f)) in [
            "kind macro-F1",
            "priority",
            "status",
            "category",
            "location",
        ]
        .iter()
        .zip(got.iter().zip(floor))
        {
            assert!(*g >= f, "{name}: {what} {g:.3} below {f:.3}\n{r}");
        }
    }
}

#[test]
fn rules_only_baseline_is_weaker_but_sane() {
    let items = Labelled::parse_jsonl(DEV).expect("dev corpus parses");
    let r = evaluate(&Classifier::rules_only(), &items);
    assert!(r.kind_macro_f1 > 0.5 && r.kind_macro_f1 < 0.9, "{r}");
    assert!(r.location_block.f1 > 0.9, "{r}");
}

#[test]
fn report_prints_all_scores_and_serialises() {
    let items = Labelled::parse_jsonl(HOLDOUT).expect("holdout parses");
    let r = evaluate(&C, &items[..20]);
    let s = r.to_string();
    for needle in [
        "macro-F1",
        "confusion",
        "status accuracy",
        "category accuracy",
        "priority accuracy",
        "location block",
        "location level",
        "location unit",
        "location area",
        "repeat F1",
    ] {
        assert!(s.contains(needle), "missing {needle} in\n{s}");
    }
    let j = serde_json::to_value(&r).expect("serialises");
    assert!(j["kind_macro_f1"].as_f64().is_some());
    assert_eq!(j["confusion"].as_array().map(Vec::len), Some(7));
}

#[test]
fn kinds_across_languages() {
    assert_eq!(
        c("Siap mop lobi blok B, lantai dah kering").kind,
        Kind::TaskReport
    );
    assert_eq!(c("Paip bocor tingkat 5 blok A").kind, Kind::IssueReport);
    assert_eq!(c("Technician on the way").kind, Kind::IssueUpdate);
    assert_eq!(c("Pump repaired, running normal").kind, Kind::IssueResolved);
    assert_eq!(c("Clock in guardhouse 7am").kind, Kind::CheckIn);
    assert_eq!(
        c("Pls clean block C lobby before 10am").kind,
        Kind::Instruction
    );
    assert_eq!(c("Good morning all 🙏").kind, Kind::Chatter);
    assert_eq!(c("").kind, Kind::Chatter);
    assert_eq!(c("👍👍").kind, Kind::Chatter);
    assert_eq!(
        c("Kamar mandi lantai 2 mampet, air tidak turun").kind,
        Kind::IssueReport
    );
}

#[test]
fn chinese_messages() {
    let r = c("C座电梯坏了，不能用");
    assert_eq!(
        (r.kind, r.category, r.location.block.as_deref()),
        (Kind::IssueReport, Some(Category::Lift), Some("C"))
    );
    assert_eq!(r.priority, Some(Priority::High));
    let r = c("B座3楼水管漏水，很多水");
    assert_eq!(
        (r.category, r.location.level.as_deref()),
        (Some(Category::Plumbing), Some("3"))
    );
    let r = c("游泳池边已经清洁好了");
    assert_eq!(
        (r.kind, r.status, r.location.area.as_deref()),
        (Kind::TaskReport, Some(TaskStatus::Done), Some("pool"))
    );
    assert_eq!(c("水管修好了").kind, Kind::IssueResolved);
    assert!(c("A座电梯又坏了").repeat);
}

#[test]
fn task_status_rules() {
    assert_eq!(
        c("Tengah cuci carpark blok C, separuh dah siap").status,
        Some(TaskStatus::InProgress)
    );
    assert_eq!(
        c("Tower 1 level 15 done. moving to 14 now").status,
        Some(TaskStatus::Done)
    );
    assert_eq!(
        c("Pool cleaning postpone dulu, hujan lebat since 7am").status,
        Some(TaskStatus::Blocked)
    );
    assert_eq!(c("Issue ticket").status, None);
}

#[test]
fn priority_rules() {
    let p = |t: &str| c(t).priority;
    assert_eq!(
        p("Pipe burst at blk D lvl 2, water flooding the corridor!!"),
        Some(Priority::Urgent)
    );
    assert_eq!(
        p("Boss urgent\nBlock B lift stuck, 2 residents inside!!\npls come fast"),
        Some(Priority::Urgent)
    );
    assert_eq!(
        p("Lift blk A stuck lagi kat lvl 5, takde orang dalam"),
        Some(Priority::High)
    );
    assert_eq!(
        p("Blk B no water whole block since 6am"),
        Some(Priority::Urgent)
    );
    assert_eq!(
        p("Unit B-09-02 complain no water since morning"),
        Some(Priority::High)
    );
    assert_eq!(
        p("Tower 1 lift not stuck, just very slow and jerky"),
        Some(Priority::Normal)
    );
    assert_eq!(
        p("Paint peeling at blk B lobby wall near letterbox"),
        Some(Priority::Low)
    );
    assert_eq!(
        p("Ada sarang tebuan besar kat pokok tepi kolam"),
        Some(Priority::High)
    );
    // rule 19: "again" alone does not raise priority
    assert_eq!(p("Lobi blok A kotor lagi"), Some(Priority::Normal));
    assert_eq!(c("Lift A ok already").priority, None);
}

#[test]
fn repeat_rules() {
    assert!(c("Lift C spoil again lah, 3rd time this week").repeat);
    assert!(c("Toilet G floor blk B tersumbat lagi, bau busuk").repeat);
    assert!(c("Tower 2 lobby aircon still warm, reported 3 days ago").repeat);
    // rule 21: not a repeat
    assert!(!c("Still waiting for lift tech, called 3 times already").repeat);
    assert!(!c("Intercom blk C working again").repeat);
    assert!(!c("Saya lagi potong rumput di depan").repeat);
    assert!(!c("Blk B lvl 4 on going, lagi 3 floor").repeat);
}

#[test]
fn a_new_problem_wins_over_reported_work() {
    let r = c("done clean lobby A, but toilet lvl 2 choke");
    assert_eq!(r.kind, Kind::IssueReport);
    assert_eq!(r.category, Some(Category::Plumbing));
    assert_eq!(
        (
            r.location.block.as_deref(),
            r.location.level.as_deref(),
            r.location.area.as_deref()
        ),
        (Some("A"), Some("2"), Some("toilet"))
    );
}

#[test]
fn chatter_has_no_fields_and_cues_explain() {
    let r = c("Noted boss, thank you");
    assert_eq!(r.kind, Kind::Chatter);
    assert!(r.category.is_none() && r.location.is_empty() && r.priority.is_none());
    let r = c("Paip bocor aras 6 blok C, air mencurah ke koridor");
    assert!(
        r.cues.iter().any(|q| q.starts_with("kind:")),
        "{:?}",
        r.cues
    );
    assert!(
        r.cues.iter().any(|q| q.starts_with("category:")),
        "{:?}",
        r.cues
    );
    assert!((0.0..=1.0).contains(&r.confidence));
}

#[test]
fn site_vocabulary_feeds_the_extractors() {
    let mut cl = Classifier::new();
    let before = cl.classify("Paip bocor kat Cempaka tingkat 3");
    assert_eq!(before.location.block, None);
    cl.set_site_vocabulary(SiteVocabulary {
        blocks: vec!["Cempaka".into()],
        area_aliases: vec![
            ("dewan serbaguna".into(), "lobby".into()),
            ("bad".into(), "not an area".into()),
        ],
        site_aliases: vec!["Seri Mutiara".into()],
    });
    let after = cl.classify("Paip bocor kat Cempaka tingkat 3");
    assert_eq!(after.location.block.as_deref(), Some("Cempaka"));
    assert_eq!(after.location.level.as_deref(), Some("3"));
    assert_eq!(
        cl.classify("Dewan serbaguna dah mop")
            .location
            .area
            .as_deref(),
        Some("lobby")
    );
    assert_eq!(cl.site_vocabulary().blocks.len(), 1);
}

#[test]
fn learning_from_corrections() {
    let mut cl = Classifier::new();
    let issue = |cat: Category| Classification {
        kind: Kind::IssueReport,
        status: None,
        category: Some(cat),
        location: Location::default(),
        priority: Some(Priority::Normal),
        repeat: false,
        confidence: 1.0,
        cues: vec![],
        kind_scores: None,
    };
    // "bombok" is this site's slang for the intercom panel; the bundled lexicon does not know it.
    let slang = "Bombok kat lobby blok C rosak";
    assert_ne!(
        cl.classify("Bombok blok D rosak teruk").category,
        Some(Category::Electrical)
    );
    let untouched = [
        "Siap mop lobi blok B, lantai dah kering",
        "Lift A ok already, tested up down 5 times",
        "Good morning all 🙏",
        "Paip bocor aras 6 blok C",
    ];
    let before: Vec<(Kind, Option<Category>)> = untouched
        .iter()
        .map(|t| (cl.classify(t).kind, cl.classify(t).category))
        .collect();
    cl.learn(slang, &issue(Category::Electrical));
    // a text whose kind the model gets wrong
    let odd = "Kopi O kosong satu";
    let mut instr = issue(Category::Other);
    instr.kind = Kind::Instruction;
    instr.priority = None;
    cl.learn(odd, &instr);
    assert_eq!(cl.corrections(), 2);
    // the same (normalised) text gets the correction
    let r = cl.classify("BOMBOK kat lobby blok C rosakkk");
    assert_eq!(
        (r.kind, r.category),
        (Kind::IssueReport, Some(Category::Electrical))
    );
    assert_eq!(r.cues, vec!["manager correction".to_string()]);
    assert_eq!(cl.classify(odd).kind, Kind::Instruction);
    // similar slang now carries the learned trade
    let sim = cl.classify("Bombok blok D rosak teruk");
    assert_eq!(sim.category, Some(Category::Electrical), "{:?}", sim.cues);
    // other messages are not broken
    let after: Vec<(Kind, Option<Category>)> = untouched
        .iter()
        .map(|t| (cl.classify(t).kind, cl.classify(t).category))
        .collect();
    assert_eq!(before, after);
    // the site vocabulary can be changed afterwards without losing learned slang
    cl.set_site_vocabulary(SiteVocabulary::default());
    assert_eq!(
        cl.classify("Bombok blok D rosak teruk").category,
        Some(Category::Electrical)
    );
}

#[test]
fn site_classifiers_share_the_model_weights_until_one_learns() {
    let base = Classifier::new();
    let mut site = base.clone();
    site.set_site_vocabulary(SiteVocabulary {
        blocks: vec!["Cempaka".into()],
        ..SiteVocabulary::default()
    });
    // Fifty sites with their own block names must not hold fifty copies of megabytes of weights.
    assert!(site.kind_model.shares_weights_with(&base.kind_model));
    assert!(site.cat_model.shares_weights_with(&base.cat_model));
    assert_eq!(
        site.classify("Lampu Cempaka rosak")
            .location
            .block
            .as_deref(),
        Some("Cempaka")
    );
    let mut learner = base.clone();
    learner.learn("Kopi O kosong satu", &{
        let mut c = learner.classify("Kopi O kosong satu");
        c.kind = Kind::Instruction;
        c
    });
    // The learner got its own copy; the others keep classifying as before.
    assert!(!learner.kind_model.shares_weights_with(&base.kind_model));
    assert!(site.kind_model.shares_weights_with(&base.kind_model));
    assert_eq!(
        learner.classify("Kopi O kosong satu").kind,
        Kind::Instruction
    );
}

#[test]
fn the_bundled_model_is_compact() {
    let c = Classifier::new();
    // Only slots the training data touched hold weights: a few thousand rows, not 65,536.
    let (kind_rows, cat_rows) = (c.kind_model.rows(), c.cat_model.rows());
    let bytes = c.kind_model.weight_bytes() + c.cat_model.weight_bytes();
    eprintln!("kind rows {kind_rows}, category rows {cat_rows}, {bytes} bytes");
    assert!(
        kind_rows > 1000 && kind_rows < (1 << BITS) / 2,
        "{kind_rows}"
    );
    assert!(cat_rows > 100 && cat_rows < kind_rows, "{cat_rows}");
    assert!(bytes < 2_000_000, "{bytes} bytes of weights");
    // Without a site vocabulary the lexicon in use is the bundled one, not a second copy of it.
    assert!(std::sync::Arc::ptr_eq(&c.lex, &c.base_lex));
    // Learning slang keeps it single and knows the new word.
    let mut learner = c.clone();
    let mut fixed = learner.classify("Gerobok tu koyak dah");
    fixed.kind = Kind::IssueReport;
    fixed.category = Some(Category::Civil);
    learner.learn("Gerobok tu koyak dah", &fixed);
    assert!(std::sync::Arc::ptr_eq(&learner.lex, &learner.base_lex));
    assert!(
        !std::sync::Arc::ptr_eq(&learner.lex, &c.lex),
        "the original keeps its own lexicon"
    );
    assert_eq!(
        learner.classify("gerobok blok B koyak").category,
        Some(Category::Civil)
    );
}
