//! Scoring exactly as `classification.md` defines it, and k-fold cross-validation.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::classify::types::{Category, Classification, Kind, Location, Priority, TaskStatus};
use crate::classify::Classifier;

/// One line of a labelled corpus file (`messages.dev.jsonl` format).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Labelled {
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub lang: Option<String>,
    pub kind: Kind,
    #[serde(default)]
    pub status: Option<TaskStatus>,
    #[serde(default)]
    pub category: Option<Category>,
    #[serde(default)]
    pub location: Location,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub repeat: bool,
}

impl Labelled {
    /// Parses a JSON-lines corpus; errors name the line.
    pub fn parse_jsonl(text: &str) -> Result<Vec<Labelled>, String> {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            out.push(serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?);
        }
        Ok(out)
    }
}

/// Precision / recall / F1 counts.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct F1 {
    pub tp: usize,
    pub fp: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl F1 {
    fn finish(mut self) -> F1 {
        let p = if self.tp + self.fp > 0 {
            self.tp as f64 / (self.tp + self.fp) as f64
        } else {
            0.0
        };
        let r = if self.tp + self.fn_ > 0 {
            self.tp as f64 / (self.tp + self.fn_) as f64
        } else {
            0.0
        };
        self.precision = p;
        self.recall = r;
        self.f1 = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        self
    }
}

/// Accuracy over a subset.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Accuracy {
    pub correct: usize,
    pub total: usize,
    pub accuracy: f64,
}

impl Accuracy {
    fn add(&mut self, ok: bool) {
        self.total += 1;
        if ok {
            self.correct += 1;
        }
    }
    fn finish(mut self) -> Accuracy {
        self.accuracy = if self.total > 0 {
            self.correct as f64 / self.total as f64
        } else {
            0.0
        };
        self
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KindScore {
    pub kind: Kind,
    pub support: usize,
    pub f1: F1,
}

/// The scores of `classification.md`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvalReport {
    pub messages: usize,
    pub kind_macro_f1: f64,
    pub kind_accuracy: f64,
    pub per_kind: Vec<KindScore>,
    /// `confusion[gold][predicted]`, rows and columns in `Kind::ALL` order.
    pub confusion: [[usize; 7]; 7],
    pub status: Accuracy,
    pub category: Accuracy,
    pub priority: Accuracy,
    pub location_block: F1,
    pub location_level: F1,
    pub location_unit: F1,
    pub location_area: F1,
    /// All four location keys pooled (micro-F1): the "location F1" of issue 17.
    pub location: F1,
    pub repeat: F1,
    /// Ids of messages whose kind was wrong (gold, predicted).
    pub kind_errors: Vec<(String, Kind, Kind)>,
}

/// Case-folds and drops a leading block word ("Blk A" → "a").
fn norm_loc(v: &str) -> String {
    let s = v.trim().to_lowercase();
    for w in ["block ", "blok ", "blk "] {
        if let Some(rest) = s.strip_prefix(w) {
            return rest.trim().to_string();
        }
    }
    s
}

fn loc_f1(acc: &mut F1, gold: Option<&str>, pred: Option<&str>) {
    match (gold.map(norm_loc), pred.map(norm_loc)) {
        (Some(g), Some(p)) if g == p => acc.tp += 1,
        (Some(_), Some(_)) => {
            acc.fp += 1;
            acc.fn_ += 1;
        }
        (Some(_), None) => acc.fn_ += 1,
        (None, Some(_)) => acc.fp += 1,
        (None, None) => {}
    }
}

/// Scores predictions against labels.
pub fn score(items: &[Labelled], preds: &[Classification]) -> EvalReport {
    let mut confusion = [[0usize; 7]; 7];
    let mut status = Accuracy::default();
    let mut category = Accuracy::default();
    let mut priority = Accuracy::default();
    let (mut lb, mut ll, mut lu, mut la, mut rep) = (
        F1::default(),
        F1::default(),
        F1::default(),
        F1::default(),
        F1::default(),
    );
    let mut kind_errors = Vec::new();
    for (g, p) in items.iter().zip(preds) {
        confusion[g.kind as usize][p.kind as usize] += 1;
        if g.kind != p.kind {
            kind_errors.push((g.id.clone(), g.kind, p.kind));
        }
        if g.kind == Kind::TaskReport {
            status.add(g.status == p.status);
        }
        if g.kind != Kind::Chatter {
            category.add(g.category == p.category);
        }
        if g.kind == Kind::IssueReport {
            priority.add(g.priority == p.priority);
        }
        loc_f1(
            &mut lb,
            g.location.block.as_deref(),
            p.location.block.as_deref(),
        );
        loc_f1(
            &mut ll,
            g.location.level.as_deref(),
            p.location.level.as_deref(),
        );
        loc_f1(
            &mut lu,
            g.location.unit.as_deref(),
            p.location.unit.as_deref(),
        );
        loc_f1(
            &mut la,
            g.location.area.as_deref(),
            p.location.area.as_deref(),
        );
        match (g.repeat, p.repeat) {
            (true, true) => rep.tp += 1,
            (false, true) => rep.fp += 1,
            (true, false) => rep.fn_ += 1,
            _ => {}
        }
    }
    let mut per_kind = Vec::new();
    let mut f1_sum = 0.0;
    let mut f1_n = 0;
    let mut correct = 0;
    for k in Kind::ALL {
        let i = k as usize;
        let tp = confusion[i][i];
        correct += tp;
        let support: usize = confusion[i].iter().sum();
        let predicted: usize = (0..7).map(|g| confusion[g][i]).sum();
        let f = F1 {
            tp,
            fp: predicted - tp,
            fn_: support - tp,
            ..F1::default()
        }
        .finish();
        if support > 0 || predicted > 0 {
            f1_sum += f.f1;
            f1_n += 1;
        }
        per_kind.push(KindScore {
            kind: k,
            support,
            f1: f,
        });
    }
    let n = items.len();
    EvalReport {
        messages: n,
        kind_macro_f1: if f1_n > 0 { f1_sum / f1_n as f64 } else { 0.0 },
        kind_accuracy: if n > 0 {
            correct as f64 / n as f64
        } else {
            0.0
        },
        per_kind,
        confusion,
        status: status.finish(),
        category: category.finish(),
        priority: priority.finish(),
        location_block: lb.finish(),
        location_level: ll.finish(),
        location_unit: lu.finish(),
        location_area: la.finish(),
        location: F1 {
            tp: lb.tp + ll.tp + lu.tp + la.tp,
            fp: lb.fp + ll.fp + lu.fp + la.fp,
            fn_: lb.fn_ + ll.fn_ + lu.fn_ + la.fn_,
            ..F1::default()
        }
        .finish(),
        repeat: rep.finish(),
        kind_errors,
    }
}

/// Classifies every item with `c` and scores it.
pub fn evaluate(c: &Classifier, items: &[Labelled]) -> EvalReport {
    let preds: Vec<Classification> = items.iter().map(|i| c.classify(&i.text)).collect();
    score(items, &preds)
}

/// k-fold cross-validation: for each fold the statistical layer is trained on the bundled data minus every item of
/// `items` (by id and by text), plus the other folds; the fold is then classified. Folds are `index % folds`.
pub fn cross_validate(items: &[Labelled], folds: usize) -> EvalReport {
    let folds = folds.max(2);
    let base = crate::classify::bundled_training_data_excluding(items).unwrap_or_default();
    let mut preds: Vec<Option<Classification>> = vec![None; items.len()];
    for f in 0..folds {
        let mut train = base.clone();
        for (i, it) in items.iter().enumerate() {
            if i % folds != f {
                train.push(crate::classify::TrainItem {
                    id: it.id.clone(),
                    text: it.text.clone(),
                    kind: it.kind,
                    category: it.category,
                });
            }
        }
        let c = match Classifier::train(&train) {
            Ok(c) => c,
            Err(_) => Classifier::rules_only(),
        };
        for (i, it) in items.iter().enumerate() {
            if i % folds == f {
                preds[i] = Some(c.classify(&it.text));
            }
        }
    }
    let preds: Vec<Classification> = preds
        .into_iter()
        .map(|p| p.unwrap_or_else(|| Classifier::rules_only().classify("")))
        .collect();
    score(items, &preds)
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "messages: {}", self.messages)?;
        writeln!(
            f,
            "kind: macro-F1 {:.3}  accuracy {:.3}",
            self.kind_macro_f1, self.kind_accuracy
        )?;
        for k in &self.per_kind {
            writeln!(
                f,
                "  {:<15} P {:.3}  R {:.3}  F1 {:.3}  (n={})",
                k.kind.as_str(),
                k.f1.precision,
                k.f1.recall,
                k.f1.f1,
                k.support
            )?;
        }
        writeln!(f, "confusion (rows = labelled, columns = predicted):")?;
        let abbr = [
            "task", "issue", "update", "resolv", "checkin", "instr", "chatter",
        ];
        write!(f, "  {:<15}", "")?;
        for a in abbr {
            write!(f, "{a:>8}")?;
        }
        writeln!(f)?;
        for (i, row) in self.confusion.iter().enumerate() {
            write!(f, "  {:<15}", Kind::ALL[i].as_str())?;
            for v in row {
                write!(f, "{v:>8}")?;
            }
            writeln!(f)?;
        }
        let acc = |a: &Accuracy| format!("{:.3} ({}/{})", a.accuracy, a.correct, a.total);
        writeln!(f, "status accuracy (task_report):   {}", acc(&self.status))?;
        writeln!(
            f,
            "category accuracy (non-chatter): {}",
            acc(&self.category)
        )?;
        writeln!(
            f,
            "priority accuracy (issue_report): {}",
            acc(&self.priority)
        )?;
        for (name, s) in [
            ("(all)", &self.location),
            ("block", &self.location_block),
            ("level", &self.location_level),
            ("unit", &self.location_unit),
            ("area", &self.location_area),
        ] {
            writeln!(
                f,
                "location {name:<6} F1 {:.3}  (P {:.3} R {:.3}; tp {} fp {} fn {})",
                s.f1, s.precision, s.recall, s.tp, s.fp, s.fn_
            )?;
        }
        writeln!(
            f,
            "repeat F1 {:.3}  (P {:.3} R {:.3}; tp {} fp {} fn {})",
            self.repeat.f1,
            self.repeat.precision,
            self.repeat.recall,
            self.repeat.tp,
            self.repeat.fp,
            self.repeat.fn_
        )
    }
}
