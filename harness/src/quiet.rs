//! Shrinking panics many times on purpose. Those panics are silenced on the
//! thread that shrinks, and only there: one process-wide hook, installed
//! once, forwards every other thread's panic to the hook that was before it
//! (swapping the hook per call would silence test threads running beside).

use std::cell::Cell;
use std::sync::Once;

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
    /// The last panic silenced on this thread, for one that escapes `f`.
    static SILENCED: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

static INSTALL: Once = Once::new();

/// Run `f` with this thread's panic messages silenced.
pub fn quietly<T>(f: impl FnOnce() -> T) -> T {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                SILENCED.with(|s| *s.borrow_mut() = Some(info.to_string()));
            } else {
                previous(info);
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was));
    out.unwrap_or_else(|payload| {
        // Not a panic the shrinker caught: it ends the process, which must
        // say why.
        if let Some(message) = SILENCED.with(|s| s.borrow_mut().take()) {
            eprintln!("{message}");
        }
        std::panic::resume_unwind(payload)
    })
}

/// `f`'s value, or the message of the panic it ended in (which still
/// prints). A round whose engine or sequential setup panics (a setup op
/// the model says succeeds, failing under a planted defect) is a failure
/// of that round, reported with its token, not the end of the campaign or
/// of its replay.
pub fn caught<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_else(|| "a panic with no message".to_string());
        format!("the round panicked: {message}")
    })
}
