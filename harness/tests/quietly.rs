//! `quietly` silences only its own thread's panics (it once swapped the
//! process-wide hook, so a test failing on another thread meanwhile lost
//! its message). Its own test binary: it installs a panic hook.

use std::sync::atomic::{AtomicUsize, Ordering};

use stampede_harness::quiet::quietly;

static REPORTED: AtomicUsize = AtomicUsize::new(0);

#[test]
fn regression_quietly_silences_only_its_own_thread() {
    std::panic::set_hook(Box::new(|_| {
        REPORTED.fetch_add(1, Ordering::SeqCst);
    }));
    // Its own panics are silent...
    quietly(|| std::panic::catch_unwind(|| panic!("shrinking")).expect_err("it panics"));
    assert_eq!(REPORTED.load(Ordering::SeqCst), 0);
    // ...another thread's panic meanwhile still reaches the hook.
    quietly(|| {
        std::thread::spawn(|| panic!("a test beside"))
            .join()
            .expect_err("it panics")
    });
    assert_eq!(REPORTED.load(Ordering::SeqCst), 1);
    // And after it, this thread's panics are reported again.
    std::panic::catch_unwind(|| panic!("later")).expect_err("it panics");
    assert_eq!(REPORTED.load(Ordering::SeqCst), 2);
}
