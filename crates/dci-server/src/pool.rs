//! CPU work (parsing, compiling, rendering) on the rayon pool, awaited
//! without blocking a tokio worker.

/// Runs `job` on the rayon pool; a panic in it resumes in the caller (where the
/// panic-catching layer turns it into a 500).
pub(crate) async fn on_pool<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        let _ = sender.send(result);
    });
    match receiver.await {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("the rayon pool dropped a job"),
    }
}
