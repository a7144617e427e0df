//! Message classifier (`shared/spec/classification.md`): kind, task status, category, location, priority, repeat,
//! confidence and the cues that decided.
//!
//! Pipeline: normalise and tokenise ([`normalize`]) → match the multilingual lexicon ([`lexicon`]) → extract the
//! location ([`extract`]) → score the kind with a logistic-regression layer over hashed word/character n-grams and
//! lexicon cues ([`model`]), trained at construction from the labelled data bundled in `assets/classifier/` → apply
//! the contract's rules for status, category, priority and repeat ([`rules`]). Managers' corrections ([`Classifier::learn`])
//! are remembered exactly and also move the statistical layer and the site lexicon. Pure computation, no I/O.

pub mod eval;
pub mod extract;
pub mod lexicon;
pub mod model;
pub mod normalize;
pub mod rules;
pub mod types;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::classify::lexicon::{area_index, st, Cue, Lexicon, Tags};
use crate::classify::model::{argmax, FeatHash, Features, Linear};
use crate::classify::normalize::{memory_key, TokClass};
use crate::classify::rules::Analysis;
use crate::classify::types::{Category, Classification, Kind, Location, TaskStatus};

pub use crate::classify::eval::{cross_validate, evaluate, EvalReport, Labelled};

/// Version of the bundled model (lexicon + rules + training data). Bump when any of them changes.
pub const VERSION: &str = "tapak-classify-1.2.1";

const LEXICON: &str = include_str!("../../assets/classifier/lexicon.txt");
const DEV_DATA: &str = include_str!("../../assets/classifier/train-dev.jsonl");
const EXTRA_DATA: &str = include_str!("../../assets/classifier/train-extra.txt");
const DEV2_DATA: &str = include_str!("../../assets/classifier/train-dev2.jsonl");

const BITS: u32 = 16;
const USE_CAT_MODEL: bool = true;
const EPOCHS: usize = 25;
const LR: f32 = 0.15;
const L2: f32 = 2e-6;

/// Per-site vocabulary that feeds the extractors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteVocabulary {
    /// Block names as the site writes them ("A", "Cempaka", "Tower 3"); a message naming one gets that block.
    #[serde(default)]
    pub blocks: Vec<String>,
    /// Local names of common areas → one of the 15 normalised areas ("surau side garden" → "garden", "dewan" → ...).
    #[serde(default)]
    pub area_aliases: Vec<(String, String)>,
    /// Names of the site itself ("Seri Mutiara", "SM"); recognised and ignored.
    #[serde(default)]
    pub site_aliases: Vec<String>,
}

/// One labelled example for the statistical layer.
#[derive(Debug, Clone)]
pub struct TrainItem {
    pub id: String,
    pub text: String,
    pub kind: Kind,
    pub category: Option<Category>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    #[error(transparent)]
    Lexicon(#[from] lexicon::LexiconError),
    #[error("{file} line {line}: {msg}")]
    Data {
        file: &'static str,
        line: usize,
        msg: String,
    },
}

/// The classifier. Cheap to share (`Send + Sync`); `classify` takes `&self`.
#[derive(Debug, Clone)]
pub struct Classifier {
    /// The lexicon in use: the bundled one (the same allocation as `base_lex`) until a site vocabulary is set.
    lex: std::sync::Arc<Lexicon>,
    /// The bundled lexicon (with learned slang), kept to rebuild after a site vocabulary change; shared by the
    /// clones made for sites until one of them learns (copy on write).
    base_lex: std::sync::Arc<Lexicon>,
    kind_model: Linear,
    /// Category layer: lexicon trade evidence + words → one of the 11 categories or null (index 11).
    cat_model: Linear,
    /// Weight of each lexicon cue feature per kind (for explaining decisions cheaply).
    cue_w: Vec<[f32; 7]>,
    memory: HashMap<String, Classification>,
    site: SiteVocabulary,
    learned_phrases: Vec<(String, Tags)>,
}

impl Default for Classifier {
    fn default() -> Self {
        Classifier::new()
    }
}

impl Classifier {
    /// The bundled model: lexicon and statistical layer trained on the bundled labelled data.
    pub fn new() -> Classifier {
        // The bundled assets are compile-time constants validated by the unit tests.
        Classifier::try_new().expect("bundled classifier assets are valid")
    }

    pub fn try_new() -> Result<Classifier, ClassifyError> {
        Classifier::trained_without(&[])
    }

    /// The bundled model with the statistical layer trained without the named training sources, so that a text set
    /// can be scored out of sample (for example the development messages, to measure on them honestly).
    pub fn trained_without(sources: &[TrainingSource]) -> Result<Classifier, ClassifyError> {
        Classifier::train(&bundled_training_data(sources)?)
    }

    /// A classifier whose statistical layer is trained on `data` only (used by cross-validation).
    pub fn train(data: &[TrainItem]) -> Result<Classifier, ClassifyError> {
        let lex = std::sync::Arc::new(Lexicon::parse(LEXICON)?);
        let mut c = Classifier {
            base_lex: lex.clone(),
            lex,
            kind_model: Linear::new(BITS, Kind::ALL.len()),
            cat_model: Linear::new(BITS, 12),
            cue_w: Vec::new(),
            memory: HashMap::new(),
            site: SiteVocabulary::default(),
            learned_phrases: Vec::new(),
        };
        let mut samples: Vec<(Features, usize, f32)> = Vec::with_capacity(data.len());
        let mut cat_samples: Vec<(Features, usize, f32)> = Vec::with_capacity(data.len());
        for d in data {
            let toks = c.lex.tokenize(&d.text);
            let a = Analysis::new(&c.lex, toks);
            let ex = extract::extract(&c.lex, &a.toks, &a.hits, a.focus);
            let xw = word_features(&a, &ex.location);
            if d.kind != Kind::Chatter {
                let cx = cat_features(&a, d.kind, &xw);
                cat_samples.push((cx, d.category.map_or(11, |c| c as usize), 1.0));
            }
            let mut x = xw;
            char_grams(&a, &mut x);
            samples.push((x, d.kind as usize, 1.0));
        }
        c.kind_model.train(&samples, EPOCHS, LR, L2);
        c.cat_model.train(&cat_samples, EPOCHS, LR, L2);
        c.refresh_cue_weights();
        Ok(c)
    }

    /// A classifier with the lexicon and rules but an untrained statistical layer ("rules only").
    pub fn rules_only() -> Classifier {
        let lex = std::sync::Arc::new(Lexicon::parse(LEXICON).expect("bundled lexicon is valid"));
        Classifier {
            base_lex: lex.clone(),
            lex,
            kind_model: Linear::new(1, Kind::ALL.len()),
            cat_model: Linear::new(1, 12),
            cue_w: vec![[0.0; 7]; Cue::ALL.len()],
            memory: HashMap::new(),
            site: SiteVocabulary::default(),
            learned_phrases: Vec::new(),
        }
    }

    fn refresh_cue_weights(&mut self) {
        self.cue_w = Cue::ALL
            .iter()
            .map(|c| {
                let slot = FeatHash::new("cue").push(c.name().as_bytes()).slot(BITS);
                let mut w = [0.0f32; 7];
                for (k, x) in w.iter_mut().enumerate() {
                    *x = self.kind_model.weight(slot, k);
                }
                w
            })
            .collect();
    }

    /// Contract rules that override the statistical layer when their evidence is explicit.
    fn kind_rules(
        &self,
        a: &Analysis,
        kind: Kind,
        conf: f32,
        cues: &mut Vec<String>,
    ) -> (Kind, f32) {
        if a.word_count() == 0 {
            return (kind, conf);
        }
        let problem = a.has(Cue::Fault) || a.has(Cue::Hazard) || a.has(Cue::PestSee);
        // Rule 10: a prohibition or cancellation opening the message is an instruction.
        let first = a
            .toks
            .iter()
            .find(|t| !matches!(t.text.as_str(), "," | "." | "@" | "boss"));
        if first.is_some_and(|t| {
            matches!(
                t.text.as_str(),
                "jangan" | "jgn" | "dont" | "不要" | "别" | "tak payah" | "usah"
            )
        }) || (first.is_some_and(|t| t.text == "do")
            && a.toks.get(1).is_some_and(|t| t.text == "not"))
        {
            if kind != Kind::Instruction {
                cues.push("kind: prohibition → instruction".into());
            }
            return (Kind::Instruction, conf.max(0.6));
        }
        // Rule 9: a "why ... not working" question is a complaint.
        if a.has(Cue::Why) && problem && !a.has(Cue::Res) && kind != Kind::IssueReport {
            cues.push("kind: complaint question → issue_report".into());
            return (Kind::IssueReport, conf.max(0.6));
        }
        // Rule 1: a new problem wins over reported work or a check-in.
        let after_contrast_res = a.focus.is_some_and(|f| {
            a.hits
                .iter()
                .any(|h| h.start >= f && a.tags(h).has(Cue::Res))
        });
        if matches!(kind, Kind::TaskReport | Kind::CheckIn | Kind::IssueResolved)
            && !a.has(Cue::Blocked)
            && !after_contrast_res
            && later_problem(a)
            && (kind != Kind::IssueResolved || a.focus.is_some())
        {
            cues.push("kind: problem after reported work → issue_report".into());
            return (Kind::IssueReport, conf.max(0.6));
        }
        (kind, conf)
    }

    fn is_rules_only(&self) -> bool {
        self.kind_model.bits == 1
    }

    /// Replaces the site vocabulary. Area aliases naming an area outside the 15 normalised words are ignored.
    pub fn set_site_vocabulary(&mut self, vocab: SiteVocabulary) {
        let mut lex = (*self.base_lex).clone();
        for b in &vocab.blocks {
            let t = Tags {
                st: st::BLOCKNAME,
                block_name: Some(b.trim().to_string()),
                ..Tags::default()
            };
            lex.add_phrase(b, &t);
            for prefix in ["blok", "block", "blk", "tower"] {
                if !b.to_lowercase().starts_with(prefix) {
                    lex.add_phrase(&format!("{prefix} {b}"), &t);
                }
            }
        }
        for (alias, area) in &vocab.area_aliases {
            if let Some(a) = area_index(area.trim()) {
                lex.add_phrase(
                    alias,
                    &Tags {
                        area: Some(a),
                        ..Tags::default()
                    },
                );
            }
        }
        for s in &vocab.site_aliases {
            lex.add_phrase(
                s,
                &Tags {
                    st: st::SITE,
                    ..Tags::default()
                },
            );
        }
        for (p, t) in &self.learned_phrases {
            lex.add_phrase(p, t);
        }
        lex.rebuild();
        self.lex = std::sync::Arc::new(lex);
        self.site = vocab;
    }

    pub fn site_vocabulary(&self) -> &SiteVocabulary {
        &self.site
    }

    /// A manager's correction. The exact (normalised) text will get `corrected` from now on; the statistical layer
    /// is nudged towards the corrected kind, and words of the message the lexicon did not know are learned as
    /// evidence for the corrected category, so similar site slang follows.
    pub fn learn(&mut self, text: &str, corrected: &Classification) {
        let toks = self.lex.tokenize(text);
        let key = memory_key(&toks);
        let mut remembered = corrected.clone();
        remembered.confidence = 1.0;
        remembered.cues = vec!["manager correction".to_string()];
        remembered.kind_scores = None;
        self.memory.insert(key, remembered);

        if !self.is_rules_only() {
            let x = self.features_for(text);
            let y = corrected.kind as usize;
            let mut buf = vec![0.0; Kind::ALL.len()];
            for _ in 0..30 {
                self.kind_model.probs(&x, &mut buf);
                if argmax(&buf) == y && buf[y] > 0.6 {
                    break;
                }
                self.kind_model.step(&x, y, 0.3, 0.0, &mut buf);
            }
            self.refresh_cue_weights();
        }

        if !self.is_rules_only() && corrected.kind != Kind::Chatter {
            let a = Analysis::new(&self.lex, toks.clone());
            let ex = extract::extract(&self.lex, &a.toks, &a.hits, a.focus);
            let cx = cat_features(&a, corrected.kind, &word_features(&a, &ex.location));
            let y = corrected.category.map_or(11, |c| c as usize);
            let mut buf = vec![0.0; 12];
            for _ in 0..30 {
                self.cat_model.probs(&cx, &mut buf);
                if argmax(&buf) == y && buf[y] > 0.6 {
                    break;
                }
                self.cat_model.step(&cx, y, 0.3, 0.0, &mut buf);
            }
        }

        // Site slang: unknown words become category evidence when the rules got the category wrong.
        if let Some(cat) = corrected.category {
            let a = Analysis::new(&self.lex, toks.clone());
            let (rule_cat, _) = rules::rule_category(&a, corrected.kind);
            if rule_cat != Some(cat) {
                let mut covered = vec![false; a.toks.len()];
                for h in &a.hits {
                    for c in covered.iter_mut().take(h.end).skip(h.start) {
                        *c = true;
                    }
                }
                let mut added = false;
                // Without a site vocabulary the lexicon in use is the bundled one: learn into it once.
                let shared = std::sync::Arc::ptr_eq(&self.lex, &self.base_lex);
                for (i, t) in a.toks.iter().enumerate() {
                    let slang = !covered[i]
                        && t.class == TokClass::Word
                        && t.text.chars().count() >= 3
                        && t.text.chars().all(char::is_alphabetic);
                    if slang {
                        let tags = Tags {
                            cats: vec![(cat, 5)],
                            cues: Cue::Asset.bit(),
                            ..Tags::default()
                        };
                        self.learned_phrases.push((t.text.clone(), tags.clone()));
                        std::sync::Arc::make_mut(&mut self.base_lex).add_phrase(&t.text, &tags);
                        if !shared {
                            std::sync::Arc::make_mut(&mut self.lex).add_phrase(&t.text, &tags);
                        }
                        added = true;
                    }
                }
                if added {
                    std::sync::Arc::make_mut(&mut self.base_lex).rebuild();
                    if shared {
                        self.lex = self.base_lex.clone();
                    } else {
                        std::sync::Arc::make_mut(&mut self.lex).rebuild();
                    }
                }
            }
        }
    }

    /// Number of remembered corrections.
    pub fn corrections(&self) -> usize {
        self.memory.len()
    }

    fn features_for(&self, text: &str) -> Features {
        let toks = self.lex.tokenize(text);
        let a = Analysis::new(&self.lex, toks);
        let ex = extract::extract(&self.lex, &a.toks, &a.hits, a.focus);
        features(&a, &ex.location)
    }

    /// Classifies one message.
    pub fn classify(&self, text: &str) -> Classification {
        let toks = self.lex.tokenize(text);
        if !self.memory.is_empty() {
            if let Some(c) = self.memory.get(&memory_key(&toks)) {
                return c.clone();
            }
        }
        let a = Analysis::new(&self.lex, toks);
        let ex = extract::extract(&self.lex, &a.toks, &a.hits, a.focus);
        let mut cues: Vec<String> = Vec::new();

        // ---- kind
        let mut x: Features = Vec::new();
        let mut words_len = 0;
        let mut kind_scores = None;
        let (kind, confidence) = if a.word_count() == 0 {
            cues.push("kind: no words → chatter".into());
            (Kind::Chatter, 0.9)
        } else if self.is_rules_only() {
            let k = rule_kind(&a, &ex.location);
            cues.push(format!("kind: rules → {}", k.as_str()));
            (k, 0.5)
        } else {
            x = word_features(&a, &ex.location);
            words_len = x.len();
            char_grams(&a, &mut x);
            let mut p = [0.0f32; 7];
            self.kind_model.probs(&x, &mut p);
            let k = argmax(&p);
            let kind = Kind::ALL[k];
            cues.extend(kind_cues(&a, &self.cue_w, k));
            kind_scores = Some(p);
            (kind, p[k])
        };

        let (kind, confidence) = self.kind_rules(&a, kind, confidence, &mut cues);

        // ---- fields
        let status = if kind == Kind::TaskReport {
            let (s, cue) = rules::status(&a);
            if let Some(c) = cue {
                cues.push(format!("status: '{c}' → {}", s.as_str()));
            }
            Some(s)
        } else {
            None
        };
        let (rule_cat, cat_cue) = rules::rule_category(&a, kind);
        let mut category = rule_cat;
        if USE_CAT_MODEL && !self.is_rules_only() && kind != Kind::Chatter && !x.is_empty() {
            x.truncate(words_len);
            let cx = cat_features_with(&a, kind, x, rule_cat);
            let mut p = [0.0f32; 12];
            self.cat_model.probs(&cx, &mut p);
            let k = argmax(&p);
            category = if k == 11 {
                None
            } else {
                Some(Category::ALL[k])
            };
        }
        if category != rule_cat {
            if let Some(c) = category {
                cues.push(format!("category: model → {}", c.as_str()));
            }
        } else if let (Some(c), Some(cue)) = (category, cat_cue) {
            cues.push(format!("category: '{cue}' → {}", c.as_str()));
        }
        let location = if kind == Kind::Chatter {
            Location::default()
        } else {
            ex.location
        };
        if kind != Kind::Chatter {
            cues.extend(ex.cues);
        }
        let priority = if kind == Kind::IssueReport {
            let (p, why) = rules::priority(&a, category);
            cues.push(format!("priority: {why} → {}", p.as_str()));
            Some(p)
        } else {
            None
        };
        let repeat = if matches!(kind, Kind::IssueReport | Kind::IssueUpdate) {
            match rules::repeat(&a) {
                Some(c) => {
                    cues.push(format!("repeat: '{c}'"));
                    true
                }
                None => false,
            }
        } else {
            false
        };
        Classification {
            kind,
            status,
            category,
            location,
            priority,
            repeat,
            confidence,
            cues,
            kind_scores,
        }
    }
}

/// A named part of the bundled training data (`assets/classifier/`). The chat exports of the corpus are in none of
/// them: the end-to-end chat tests score the classifier on chats it was never trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainingSource {
    /// `train-dev.jsonl`: the 400 labelled development messages (`messages.dev.jsonl`).
    DevMessages,
    /// `train-extra.txt`: messages written for tapak by the labelling rules.
    Extra,
    /// `train-dev2.jsonl`: the 300 newer labelled development messages (`messages.dev2.jsonl`). In the shipped
    /// model; the scores in `docs/classifier.md` come from the model trained without them.
    Dev2Messages,
}

impl TrainingSource {
    pub const ALL: [TrainingSource; 3] = [
        TrainingSource::DevMessages,
        TrainingSource::Extra,
        TrainingSource::Dev2Messages,
    ];

    /// The name used on the command line (`tapak classify --eval FILE --without dev2`).
    pub fn name(self) -> &'static str {
        match self {
            TrainingSource::DevMessages => "dev",
            TrainingSource::Extra => "extra",
            TrainingSource::Dev2Messages => "dev2",
        }
    }

    pub fn parse(s: &str) -> Option<TrainingSource> {
        TrainingSource::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// The bundled training data, without the named sources.
pub fn bundled_training_data(without: &[TrainingSource]) -> Result<Vec<TrainItem>, ClassifyError> {
    let mut v = Vec::new();
    for s in TrainingSource::ALL {
        if without.contains(&s) {
            continue;
        }
        v.extend(match s {
            TrainingSource::DevMessages => {
                parse_jsonl(DEV_DATA, "assets/classifier/train-dev.jsonl")?
            }
            TrainingSource::Extra => parse_extra(EXTRA_DATA, "assets/classifier/train-extra.txt")?,
            TrainingSource::Dev2Messages => {
                parse_jsonl(DEV2_DATA, "assets/classifier/train-dev2.jsonl")?
            }
        });
    }
    Ok(v)
}

/// The bundled training data except items whose id or text appears in `exclude` (for honest cross-validation).
pub fn bundled_training_data_excluding(
    exclude: &[Labelled],
) -> Result<Vec<TrainItem>, ClassifyError> {
    let ids: std::collections::HashSet<&str> = exclude.iter().map(|l| l.id.as_str()).collect();
    let texts: std::collections::HashSet<String> = exclude
        .iter()
        .map(|l| l.text.trim().to_lowercase())
        .collect();
    Ok(bundled_training_data(&[])?
        .into_iter()
        .filter(|t| !ids.contains(t.id.as_str()) && !texts.contains(&t.text.trim().to_lowercase()))
        .collect())
}

fn parse_jsonl(text: &str, file: &'static str) -> Result<Vec<TrainItem>, ClassifyError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let l: Labelled = serde_json::from_str(line).map_err(|e| ClassifyError::Data {
            file,
            line: i + 1,
            msg: e.to_string(),
        })?;
        out.push(TrainItem {
            id: l.id,
            text: l.text,
            kind: l.kind,
            category: l.category,
        });
    }
    Ok(out)
}

/// `kind status category | text` lines (see the file's header).
fn parse_extra(text: &str, file: &'static str) -> Result<Vec<TrainItem>, ClassifyError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |msg: String| ClassifyError::Data {
            file,
            line: i + 1,
            msg,
        };
        let (head, body) = line
            .split_once('|')
            .ok_or_else(|| err("missing '|'".into()))?;
        let mut parts = head.split_whitespace();
        let kind = match parts.next().unwrap_or("") {
            "task" => Kind::TaskReport,
            "issue" => Kind::IssueReport,
            "update" => Kind::IssueUpdate,
            "resolved" => Kind::IssueResolved,
            "checkin" => Kind::CheckIn,
            "instr" => Kind::Instruction,
            "chat" => Kind::Chatter,
            k => return Err(err(format!("unknown kind '{k}'"))),
        };
        let _status = match parts.next().unwrap_or("-") {
            "-" => None,
            "done" => Some(TaskStatus::Done),
            "prog" => Some(TaskStatus::InProgress),
            "blocked" => Some(TaskStatus::Blocked),
            s => return Err(err(format!("unknown status '{s}'"))),
        };
        let category = match parts.next().unwrap_or("-") {
            "-" => None,
            c => Some(Category::parse(c).ok_or_else(|| err(format!("unknown category '{c}'")))?),
        };
        out.push(TrainItem {
            id: format!("x{:04}", i + 1),
            text: body.trim().replace("\\n", "\n"),
            kind,
            category,
        });
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------------ features

fn push(out: &mut Features, h: FeatHash, v: f32) {
    out.push((h.slot(BITS), v));
}

/// Sparse features of one message for the statistical layer: word-level features then character n-grams.
pub(crate) fn features(a: &Analysis, loc: &Location) -> Features {
    let mut out = word_features(a, loc);
    char_grams(a, &mut out);
    out
}

/// Character 3- and 4-grams inside words (spelling variants, Malay affixes).
fn char_grams(a: &Analysis, out: &mut Features) {
    for t in &a.toks {
        let txt = t.text.as_str();
        if t.class == TokClass::Word && txt.len() >= 4 && txt.len() <= 40 {
            let b = txt.as_bytes();
            // character 3- and 4-grams inside the word, with boundaries
            let mut padded = [0u8; 42];
            padded[0] = b'<';
            padded[1..=b.len()].copy_from_slice(b);
            padded[b.len() + 1] = b'>';
            let padded = &padded[..b.len() + 2];
            let g = FeatHash::new("g");
            for n in [4usize] {
                if padded.len() >= n {
                    for w in padded.windows(n) {
                        push(out, g.push(w), 0.25);
                    }
                }
            }
        }
    }
}

/// Word, lexicon-cue and structure features (no character n-grams).
pub(crate) fn word_features(a: &Analysis, loc: &Location) -> Features {
    let mut out: Features = Vec::with_capacity(a.toks.len() * 8 + 40);
    push(&mut out, FeatHash::new("bias"), 1.0);
    let mut prev: &str = "^";
    let mut content = 0usize;
    for t in &a.toks {
        let txt = t.text.as_str();
        if txt != "," {
            push(&mut out, FeatHash::new("w").push(txt.as_bytes()), 1.0);
        }
        push(
            &mut out,
            FeatHash::new("b")
                .push(prev.as_bytes())
                .sep()
                .push(txt.as_bytes()),
            0.7,
        );
        prev = txt;
        if matches!(t.class, TokClass::Word | TokClass::Cjk | TokClass::Num) {
            content += 1;
        }
    }
    push(
        &mut out,
        FeatHash::new("b").push(prev.as_bytes()).sep().push(b"$"),
        0.7,
    );
    if let Some(f) = a.toks.iter().find(|t| t.text != ",") {
        push(
            &mut out,
            FeatHash::new("first").push(f.text.as_bytes()),
            1.0,
        );
    }
    if let Some(l) = a
        .toks
        .iter()
        .rev()
        .find(|t| t.class != TokClass::Emoji && t.text != ",")
    {
        push(&mut out, FeatHash::new("last").push(l.text.as_bytes()), 1.0);
    }
    let len_bucket: &[u8] = match content {
        0 => b"0",
        1 => b"1",
        2 => b"2",
        3..=4 => b"3-4",
        5..=8 => b"5-8",
        9..=14 => b"9-14",
        _ => b"15+",
    };
    push(&mut out, FeatHash::new("len").push(len_bucket), 1.0);

    // lexicon cues
    let mut seen: u32 = 0;
    let mut prio = 0u8;
    let mut rep = 0u8;
    let mut cats: u16 = 0;
    for h in &a.hits {
        let t = a.tags(h);
        for c in cues_of(t.cues & !seen) {
            push(
                &mut out,
                FeatHash::new("cue").push(c.name().as_bytes()),
                1.0,
            );
        }
        seen |= t.cues;
        prio |= t.prio;
        rep |= t.rep;
        for &(c, w) in &t.cats {
            if w >= 3 {
                cats |= 1 << (c as u16);
            }
        }
        if t.area.is_some() {
            push(&mut out, FeatHash::new("has_area"), 1.0);
        }
    }
    // ordered pairs of adjacent cue hits ("neg>fn" = "tak nyala", "dah>fn" = "dah boleh guna")
    for w in a.hits.windows(2) {
        if w[1].start > w[0].end + 1 {
            continue;
        }
        let (t0, t1) = (a.tags(&w[0]), a.tags(&w[1]));
        for c0 in cues_of(t0.cues) {
            let h0 = FeatHash::new("pair").push(c0.name().as_bytes()).sep();
            for c1 in cues_of(t1.cues) {
                push(&mut out, h0.push(c1.name().as_bytes()), 0.7);
            }
        }
    }
    // "dah"/"sudah" + cue
    for (i, t) in a.toks.iter().enumerate() {
        if t.text == "dah" {
            if let Some(h) = a.hits.iter().find(|h| h.start == i + 1) {
                for c in cues_of(a.tags(h).cues) {
                    push(
                        &mut out,
                        FeatHash::new("dah").push(c.name().as_bytes()),
                        0.7,
                    );
                }
            }
        }
    }
    for (bit, name) in [(1u8, "urgent"), (2, "high"), (4, "low")] {
        if prio & bit != 0 {
            push(&mut out, FeatHash::new("prio").push(name.as_bytes()), 1.0);
        }
    }
    if rep & lexicon::rp::AGAIN != 0 {
        push(&mut out, FeatHash::new("again"), 1.0);
    }
    for c in Category::ALL {
        if cats & (1 << (c as u16)) != 0 {
            push(
                &mut out,
                FeatHash::new("cat").push(c.as_str().as_bytes()),
                0.5,
            );
        }
    }
    if cats == 0 {
        push(&mut out, FeatHash::new("nocat"), 1.0);
    }
    if seen == 0 {
        push(&mut out, FeatHash::new("nocue"), 1.0);
    }
    let social = Cue::Greet.bit() | Cue::Ack.bit() | Cue::Thanks.bit() | Cue::Social.bit();
    if seen & social != 0
        && seen & !social & !(Cue::Req.bit() | Cue::Neg.bit() | Cue::Clear.bit()) == 0
        && cats == 0
    {
        push(&mut out, FeatHash::new("only_social"), 1.0);
    }
    if loc.block.is_some() {
        push(&mut out, FeatHash::new("loc_block"), 1.0);
    }
    if loc.level.is_some() {
        push(&mut out, FeatHash::new("loc_level"), 1.0);
    }
    if loc.unit.is_some() {
        push(&mut out, FeatHash::new("loc_unit"), 1.0);
    }
    if a.focus.is_some() {
        push(&mut out, FeatHash::new("contrast"), 1.0);
        // a problem after "but"
        if a.hits
            .iter()
            .any(|h| a.focus.is_some_and(|f| h.start >= f) && a.tags(h).has(Cue::Fault))
        {
            push(&mut out, FeatHash::new("contrast_fault"), 1.0);
        }
    }
    if a.toks.first().is_some_and(|t| t.text == "@") {
        push(&mut out, FeatHash::new("mention_first"), 1.0);
    }
    if a.toks.iter().any(|t| t.text == "?") {
        push(&mut out, FeatHash::new("question"), 1.0);
    }
    if a.toks.iter().any(|t| t.text == "!!") {
        push(&mut out, FeatHash::new("exclaim2"), 1.0);
    }
    if a.toks.iter().any(|t| {
        t.class == TokClass::Num && t.raw.len() == 4 && t.raw.chars().all(|c| c.is_ascii_digit())
    }) {
        push(&mut out, FeatHash::new("hhmm"), 1.0);
    }
    if a.toks.iter().any(|t| t.class == TokClass::Cjk) {
        push(&mut out, FeatHash::new("zh"), 1.0);
    }
    let has = |c: Cue| seen & c.bit() != 0;
    let done_like = has(Cue::Done) || has(Cue::Work) || has(Cue::Res);
    if has(Cue::Mess) && done_like {
        push(&mut out, FeatHash::new("mess_done"), 1.0);
    }
    // a working function stated as done: "sejuk dah", "sudah nyala", "dah boleh guna"
    for (i, t) in a.toks.iter().enumerate() {
        if t.text != "dah" {
            continue;
        }
        let near_fn = a.hits.iter().any(|h| {
            (h.start == i + 1 || h.end == i) && a.tags(h).has(Cue::Fn) && !a.tags(h).has(Cue::Neg)
        });
        let negated = a.toks.get(i + 1).is_some_and(|n| n.text == "tak");
        if near_fn && !negated {
            push(&mut out, FeatHash::new("fn_dah"), 1.0);
        }
    }
    if later_problem(a) {
        push(&mut out, FeatHash::new("later_problem"), 1.0);
    }
    // negated fault: "dah tak bocor", "no more leak", "不再滴水"
    for w in a.hits.windows(2) {
        if w[1].start == w[0].end
            && a.tags(&w[0]).has(Cue::Neg)
            && (a.tags(&w[1]).has(Cue::Fault) || a.tags(&w[1]).has(Cue::Mess))
        {
            push(&mut out, FeatHash::new("neg_fault"), 1.0);
        }
        if w[1].start == w[0].end && a.tags(&w[0]).has(Cue::Neg) && a.tags(&w[1]).has(Cue::Work) {
            push(&mut out, FeatHash::new("neg_work"), 1.0);
        }
        if w[1].start == w[0].end && a.tags(&w[0]).has(Cue::Neg) && a.tags(&w[1]).has(Cue::Fn) {
            push(&mut out, FeatHash::new("neg_fn"), 1.0);
        }
    }
    out
}

/// A problem stated after a contrast word or in a later sentence than reported work ("done lobby A. Toilet lvl 2 choke").
pub(crate) fn later_problem(a: &Analysis) -> bool {
    let problem = |c: u32| c & (Cue::Fault.bit() | Cue::Hazard.bit() | Cue::PestSee.bit()) != 0;
    if let Some(f) = a.focus {
        if a.hits
            .iter()
            .any(|h| h.start >= f && problem(a.tags(h).cues))
        {
            return true;
        }
    }
    // sentence break after a work/done clause
    let mut work_seen = false;
    let mut broke = false;
    let mut hi = 0;
    for (i, t) in a.toks.iter().enumerate() {
        while hi < a.hits.len() && a.hits[hi].end <= i {
            hi += 1;
        }
        if t.text == "." && work_seen {
            broke = true;
            continue;
        }
        if let Some(h) = a.hits.get(hi).filter(|h| h.start == i) {
            let c = a.tags(h).cues;
            if broke && problem(c) {
                return true;
            }
            if !broke && c & (Cue::Done.bit() | Cue::Work.bit()) != 0 {
                work_seen = true;
            }
        }
    }
    false
}

/// Features of the category layer: the kind features plus the lexicon's trade evidence and the message kind.
fn cat_features(a: &Analysis, kind: Kind, base: &Features) -> Features {
    let (rule, _) = rules::rule_category(a, kind);
    cat_features_with(a, kind, base.clone(), rule)
}

fn cat_features_with(a: &Analysis, kind: Kind, base: Features, rule: Option<Category>) -> Features {
    let mut out = base;
    let cs = rules::category_scores(a, kind == Kind::IssueReport);
    for c in Category::ALL {
        let s = cs.score[c as usize];
        if s > 0.0 {
            push(
                &mut out,
                FeatHash::new("lcs").push(c.as_str().as_bytes()),
                (s / 4.0).min(3.0),
            );
        }
    }
    let rule_name = rule.map_or("none", |c| c.as_str());
    push(
        &mut out,
        FeatHash::new("lcrule").push(rule_name.as_bytes()),
        2.0,
    );
    push(
        &mut out,
        FeatHash::new("kindc").push(kind.as_str().as_bytes()),
        1.0,
    );
    push(
        &mut out,
        FeatHash::new("kindrule")
            .push(kind.as_str().as_bytes())
            .sep()
            .push(rule_name.as_bytes()),
        1.0,
    );
    out
}

/// The cues whose bits are set, in `Cue::ALL` order.
fn cues_of(mut bits: u32) -> impl Iterator<Item = Cue> {
    std::iter::from_fn(move || {
        if bits == 0 {
            return None;
        }
        let i = bits.trailing_zeros();
        bits &= bits - 1;
        Cue::ALL.get(i as usize).copied()
    })
}

/// Human-readable cues for the chosen kind: the lexicon hits that pushed the model most towards it.
fn kind_cues(a: &Analysis, cue_w: &[[f32; 7]], k: usize) -> Vec<String> {
    let mut scored: Vec<(f32, usize)> = Vec::with_capacity(a.hits.len());
    for (hi, h) in a.hits.iter().enumerate() {
        let best = cues_of(a.tags(h).cues)
            .map(|c| cue_w[c as usize][k])
            .fold(0.0f32, f32::max);
        if best > 0.2 {
            scored.push((best, hi));
        }
    }
    scored.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    let kind = Kind::ALL[k].as_str();
    let mut out: Vec<String> = Vec::with_capacity(3);
    for (_, hi) in scored {
        let s = format!("kind: '{}' → {kind}", a.surface(&a.hits[hi]));
        if !out.contains(&s) {
            out.push(s);
        }
        if out.len() == 3 {
            break;
        }
    }
    if out.is_empty() {
        out.push(format!("kind: overall wording → {kind}"));
    }
    out
}

/// Kind from the lexicon cues alone (used for the rules-only baseline).
fn rule_kind(a: &Analysis, loc: &Location) -> Kind {
    let has = |c: Cue| a.has(c);
    let problem = has(Cue::Fault)
        || has(Cue::Hazard)
        || has(Cue::PestSee)
        || has(Cue::Complain)
        || has(Cue::Why);
    if has(Cue::Res) && !has(Cue::Why) && !(has(Cue::Q)) {
        return Kind::IssueResolved;
    }
    if has(Cue::Q)
        || has(Cue::Mention)
        || (has(Cue::Req) && !problem)
        || (has(Cue::Announce) && !problem && !has(Cue::Done))
    {
        if problem && !has(Cue::Q) && !has(Cue::Mention) {
            return Kind::IssueReport;
        }
        return Kind::Instruction;
    }
    if has(Cue::Patrol) || has(Cue::Shift) || has(Cue::Attend) {
        if problem && !has(Cue::Clear) {
            return Kind::IssueReport;
        }
        return Kind::CheckIn;
    }
    if problem && !has(Cue::Blocked) {
        if has(Cue::Upd) || has(Cue::Vendor) {
            return Kind::IssueUpdate;
        }
        return Kind::IssueReport;
    }
    if has(Cue::Upd) {
        return Kind::IssueUpdate;
    }
    if has(Cue::Work) || has(Cue::Done) || has(Cue::Ongoing) || has(Cue::Blocked) {
        return Kind::TaskReport;
    }
    if !loc.is_empty() && has(Cue::Asset) {
        return Kind::TaskReport;
    }
    Kind::Chatter
}

#[cfg(test)]
mod tests;
