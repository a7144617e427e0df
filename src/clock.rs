//! Time as a dependency: every "now" in the domain, the store and the workers comes from a [`Clock`], the system one
//! in production and a [`FakeClock`] that tests set and move.
//!
//! The database handle carries the clock it was opened with ([`crate::store::Db::open_with_clock`]) and makes it the
//! current clock of every job it runs (writer and readers alike), so store functions that stamp a row (`created_at`,
//! an event's `at`) read [`now`] and get the injected time without a parameter on each of them. Code that holds a
//! `Core` asks `core.clock.now()`; a worker's step takes `now` as a value.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// A source of "now".
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until a test sets or advances it.
pub struct FakeClock {
    at: Mutex<DateTime<Utc>>,
}

impl FakeClock {
    pub fn new(at: DateTime<Utc>) -> Arc<FakeClock> {
        Arc::new(FakeClock { at: Mutex::new(at) })
    }
    pub fn set(&self, at: DateTime<Utc>) {
        match self.at.lock() {
            Ok(mut g) => *g = at,
            Err(p) => *p.into_inner() = at,
        }
    }
    /// Moves the clock forward (or back, for a negative duration); saturates at chrono's range instead of panicking.
    pub fn advance(&self, by: chrono::Duration) {
        let now = self.now();
        self.set(now.checked_add_signed(by).unwrap_or(now));
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        match self.at.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        }
    }
}

thread_local! {
    /// The clock of the database job running on this thread (see the module docs); none outside such jobs.
    static CURRENT: RefCell<Option<Arc<dyn Clock>>> = const { RefCell::new(None) };
}

/// Runs `f` with `clock` as this thread's current clock (restoring the previous one afterwards, also on panic).
pub fn with_clock<R>(clock: &Arc<dyn Clock>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<dyn Clock>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = prev);
        }
    }
    let prev = CURRENT.with(|c| c.borrow_mut().replace(clock.clone()));
    let _restore = Restore(prev);
    f()
}

/// Now, from the current database job's clock; the system clock outside one (unit tests working on a bare
/// connection, CLI code before the database is open).
pub fn now() -> DateTime<Utc> {
    CURRENT
        .with(|c| c.borrow().as_ref().map(|c| c.now()))
        .unwrap_or_else(Utc::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_clock_is_scoped_to_the_job() {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let fake = FakeClock::new(t);
        let clock: Arc<dyn Clock> = fake.clone();
        assert_eq!(with_clock(&clock, now), t);
        fake.advance(chrono::Duration::minutes(5));
        let inner = with_clock(&clock, || {
            let other: Arc<dyn Clock> = FakeClock::new(t);
            (with_clock(&other, now), now())
        });
        assert_eq!(inner, (t, t + chrono::Duration::minutes(5)));
        assert!(
            (now() - Utc::now()).num_seconds().abs() < 5,
            "system clock outside jobs"
        );
        fake.advance(chrono::Duration::MAX);
        assert_eq!(fake.now(), t + chrono::Duration::minutes(5), "saturates");
    }
}
