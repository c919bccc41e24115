//! Futures polled only when they were woken.
//!
//! Both directions of a session run in one task (see `relay`). Polled as
//! one future, both are polled at every wake-up, and the direction with
//! nothing to do checks its socket (and the server side the proxy's phase)
//! for nothing, at every message. Wrapped in `Woken`, a future has a waker
//! of its own, which marks it woken and wakes whoever polls the wrapper;
//! until marked, polling the wrapper does not poll the future.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// A future, polled only when it was woken (`apart`), or at every poll of
/// the wrapper (`together`).
pub struct Woken<'a, F> {
    future: Pin<&'a mut F>,
    own: Option<Own>,
}

/// When a wrapped future is polled: see `Woken::apart`, `Woken::together`.
/// Two futures may be woken apart only if they never wait on the same
/// readiness of one socket (which keeps one waker per readiness): the two
/// directions over plain TCP, not the halves of a TLS stream, which share
/// its socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polled {
    Apart,
    Together,
}

/// A wrapped future's own waker.
struct Own {
    mark: Arc<Mark>,
    /// `mark`, as the waker the future is polled with.
    waker: Waker,
    /// What `mark` holds as the outer waker, kept here too: comparing with
    /// it takes no lock, and it seldom changes.
    outer: Option<Waker>,
}

struct Mark {
    woken: AtomicBool,
    /// The waker of whoever polled the wrapper last, which this one wakes
    /// in turn.
    outer: Mutex<Option<Waker>>,
}

impl Wake for Mark {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        if let Some(outer) = lock(&self.outer).as_ref() {
            outer.wake_by_ref();
        }
    }
}

impl<'a, F: Future> Woken<'a, F> {
    pub fn new(future: Pin<&'a mut F>, polled: Polled) -> Woken<'a, F> {
        match polled {
            Polled::Apart => Woken::apart(future),
            Polled::Together => Woken::together(future),
        }
    }

    /// Polled only when its own waker was woken (and at the first poll).
    pub fn apart(future: Pin<&'a mut F>) -> Woken<'a, F> {
        let mark = Arc::new(Mark {
            woken: AtomicBool::new(true),
            outer: Mutex::new(None),
        });
        let own = Own {
            waker: Waker::from(Arc::clone(&mark)),
            mark,
            outer: None,
        };
        Woken {
            future,
            own: Some(own),
        }
    }

    /// Polled at every poll of the wrapper, with the caller's waker.
    pub fn together(future: Pin<&'a mut F>) -> Woken<'a, F> {
        Woken { future, own: None }
    }

    /// Puts `future` in the place of the one polled so far; it is polled
    /// at the next poll.
    pub fn set(&mut self, future: F) {
        self.future.set(future);
        self.mark();
    }

    /// Has the future polled at the next poll, woken or not: for what it
    /// checks without a waker (see `relay::stopped`).
    pub fn mark(&self) {
        if let Some(own) = &self.own {
            own.mark.woken.store(true, Ordering::Release);
        }
    }
}

impl<F: Future> Future for Woken<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let Some(own) = &mut this.own else {
            return this.future.as_mut().poll(cx);
        };
        own.follow(cx.waker());
        // Cleared before the poll: a wake-up during it marks it again.
        if !own.mark.woken.swap(false, Ordering::Acquire) {
            return Poll::Pending;
        }
        this.future
            .as_mut()
            .poll(&mut Context::from_waker(&own.waker))
    }
}

impl Own {
    /// Keeps the waker of whoever polls now, for the future's to wake.
    fn follow(&mut self, outer: &Waker) {
        if self.outer.as_ref().is_some_and(|w| w.will_wake(outer)) {
            return;
        }
        self.outer = Some(outer.clone());
        *lock(&self.mark.outer) = Some(outer.clone());
    }
}

/// A poisoned lock means a panic elsewhere in this session's task, which
/// has already ended it; the waker itself is still usable.
fn lock(outer: &Mutex<Option<Waker>>) -> MutexGuard<'_, Option<Waker>> {
    outer.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::sync::atomic::AtomicUsize;

    /// Counts the wake-ups of the task polling the wrappers.
    #[derive(Default)]
    struct Task(AtomicUsize);

    impl Wake for Task {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts its polls, keeps the waker it was given, and finishes once
    /// `done` is set.
    struct Counted<'a> {
        polls: &'a Cell<usize>,
        waker: &'a Cell<Option<Waker>>,
        done: &'a Cell<bool>,
    }

    impl Future for Counted<'_> {
        type Output = usize;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            self.polls.set(self.polls.get() + 1);
            self.waker.set(Some(cx.waker().clone()));
            if self.done.get() {
                Poll::Ready(self.polls.get())
            } else {
                Poll::Pending
            }
        }
    }

    #[test]
    fn apart_a_future_is_polled_once_woken_and_wakes_the_task() {
        let (polls, waker, done) = (Cell::new(0), Cell::new(None), Cell::new(false));
        let inner = std::pin::pin!(Counted {
            polls: &polls,
            waker: &waker,
            done: &done,
        });
        let mut woken = std::pin::pin!(Woken::apart(inner));
        let task = Arc::new(Task::default());
        let task_waker = Waker::from(Arc::clone(&task));
        let mut cx = Context::from_waker(&task_waker);

        assert!(woken.as_mut().poll(&mut cx).is_pending());
        assert_eq!(polls.get(), 1, "polled at first");
        assert!(woken.as_mut().poll(&mut cx).is_pending());
        assert_eq!(polls.get(), 1, "not woken since");

        waker.take().unwrap().wake();
        assert_eq!(task.0.load(Ordering::Relaxed), 1, "the task is woken");
        assert!(woken.as_mut().poll(&mut cx).is_pending());
        assert_eq!(polls.get(), 2);

        done.set(true);
        waker.take().unwrap().wake_by_ref();
        assert_eq!(woken.as_mut().poll(&mut cx), Poll::Ready(3));
    }

    #[test]
    fn a_future_set_in_place_or_marked_is_polled_next() {
        let (polls, waker, done) = (Cell::new(0), Cell::new(None), Cell::new(false));
        let counted = || Counted {
            polls: &polls,
            waker: &waker,
            done: &done,
        };
        let inner = std::pin::pin!(counted());
        let mut woken = Woken::apart(inner);
        let task = Waker::from(Arc::new(Task::default()));
        let mut cx = Context::from_waker(&task);
        assert!(Pin::new(&mut woken).poll(&mut cx).is_pending());
        woken.set(counted());
        assert!(Pin::new(&mut woken).poll(&mut cx).is_pending());
        assert_eq!(polls.get(), 2);
        woken.mark();
        assert!(Pin::new(&mut woken).poll(&mut cx).is_pending());
        assert_eq!(polls.get(), 3, "marked, though not woken");
        assert!(Pin::new(&mut woken).poll(&mut cx).is_pending());
        assert_eq!(polls.get(), 3);
    }

    #[test]
    fn together_a_future_is_polled_every_time_with_the_callers_waker() {
        let (polls, waker, done) = (Cell::new(0), Cell::new(None), Cell::new(false));
        let inner = std::pin::pin!(Counted {
            polls: &polls,
            waker: &waker,
            done: &done,
        });
        let mut woken = std::pin::pin!(Woken::together(inner));
        let task = Waker::from(Arc::new(Task::default()));
        let mut cx = Context::from_waker(&task);
        for round in 1..=3 {
            assert!(woken.as_mut().poll(&mut cx).is_pending());
            assert_eq!(polls.get(), round);
        }
        assert!(waker.take().unwrap().will_wake(&task));
    }
}
