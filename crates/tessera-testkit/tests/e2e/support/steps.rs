//! Named steps: a long test runs its phases through [`step`] (or [`step_async`]), so that a
//! failure says which phase it was in: `step "<name>" failed: <the original message>`.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::Poll;

thread_local! {
    /// The steps this thread is in, outermost first.
    static CURRENT: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// The step this thread is in (`outer › inner` when nested), if any.
pub fn current() -> Option<String> {
    CURRENT.with(|c| {
        let c = c.borrow();
        (!c.is_empty()).then(|| c.join(" › "))
    })
}

/// ` in step "…"` for a failure message, or nothing outside a step.
pub fn in_step() -> String {
    current().map_or_else(String::new, |s| format!(" in step \"{s}\""))
}

/// Marks this thread as being in a step while it lives.
struct InStep;

impl InStep {
    fn enter(name: &str) -> InStep {
        eprintln!("── step: {name}");
        CURRENT.with(|c| c.borrow_mut().push(name.to_owned()));
        InStep
    }
}

impl Drop for InStep {
    fn drop(&mut self) {
        CURRENT.with(|c| c.borrow_mut().pop());
    }
}

/// The text of a panic's payload.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_owned()
    }
}

/// Run `f` as the step `name`: its name is printed first (nextest shows it with the output of
/// a failed test), and a panic inside is raised again as `step "<name>" failed: <message>`.
pub fn step<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let _in = InStep::enter(name);
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(p) => panic!("step \"{name}\" failed: {}", message(&*p)),
    }
}

/// [`step`] for async code: `step_async("…", async { … }).await`.
pub async fn step_async<T>(name: &str, f: impl Future<Output = T>) -> T {
    let _in = InStep::enter(name);
    let mut f = std::pin::pin!(f);
    let done =
        std::future::poll_fn(
            |cx| match catch_unwind(AssertUnwindSafe(|| f.as_mut().poll(cx))) {
                Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
                Ok(Poll::Pending) => Poll::Pending,
                Err(p) => Poll::Ready(Err(p)),
            },
        )
        .await;
    match done {
        Ok(v) => v,
        Err(p) => panic!("step \"{name}\" failed: {}", message(&*p)),
    }
}

/// The step helpers themselves: a failure names its step (the innermost first), and the
/// step's label is gone once it has failed.
#[test]
fn a_failed_step_names_itself() {
    let failed = |f: &dyn Fn()| message(&*catch_unwind(AssertUnwindSafe(f)).unwrap_err());
    assert_eq!(
        failed(&|| step("the step", || panic!("the message"))),
        "step \"the step\" failed: the message"
    );
    assert_eq!(
        failed(&|| {
            step("outer", || {
                assert_eq!(in_step(), " in step \"outer\"");
                step("inner", || assert_eq!(1, 2, "one is not two"))
            })
        }),
        "step \"outer\" failed: step \"inner\" failed: assertion `left == right` failed: one is \
         not two\n  left: 1\n right: 2"
    );
    assert_eq!(current(), None);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(
        failed(&|| {
            rt.block_on(step_async("an async step", async {
                tokio::task::yield_now().await;
                panic!("after a yield")
            }))
        }),
        "step \"an async step\" failed: after a yield"
    );
    assert_eq!(current(), None);
    assert_eq!(rt.block_on(step_async("fine", async { 7 })), 7);
}
