//! Polling a session's two directions, each only when it was woken.
//!
//! Both directions of a session run in one task (see `relay`). Polled as
//! one future, both are polled at every wake-up, and the direction with
//! nothing to do checks its socket (and the server side the proxy's phase)
//! for nothing, at every message. Apart, each direction has a waker of its
//! own, which marks the direction woken and wakes the task; the task then
//! polls only the marked directions.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// Which direction finished first, with what it returned.
pub enum First<C, S> {
    Client(C),
    Server(S),
}

/// How the two directions are woken.
pub enum Wakes {
    /// Both are polled at every wake-up of the task, with its waker. For
    /// TLS: a TLS stream's halves share one socket, and a half may wait
    /// on what the other does with it, where the socket keeps one waker
    /// per readiness.
    Together,
    /// Each is polled only when its own waker was woken: for plain TCP,
    /// where each direction alone reads one socket and writes the other.
    Apart(Apart),
}

pub struct Apart {
    /// The waker of the task polling them, which theirs wake in turn.
    task: Arc<Mutex<Option<Waker>>>,
    client: Direction,
    server: Direction,
}

struct Direction {
    mark: Arc<Mark>,
    /// `mark`, as the waker its futures are polled with.
    waker: Waker,
}

struct Mark {
    woken: AtomicBool,
    task: Arc<Mutex<Option<Waker>>>,
}

impl Wake for Mark {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        if let Some(task) = lock(&self.task).as_ref() {
            task.wake_by_ref();
        }
    }
}

impl Direction {
    fn new(task: &Arc<Mutex<Option<Waker>>>) -> Direction {
        let mark = Arc::new(Mark {
            // Not polled yet: nothing has been asked to wake it.
            woken: AtomicBool::new(true),
            task: Arc::clone(task),
        });
        Direction {
            waker: Waker::from(Arc::clone(&mark)),
            mark,
        }
    }

    /// Polls `future` if it was woken since it was last polled.
    fn poll<F: Future>(&self, future: Pin<&mut F>) -> Poll<F::Output> {
        // Cleared before the poll: a wake-up during it marks it again.
        if !self.mark.woken.swap(false, Ordering::Acquire) {
            return Poll::Pending;
        }
        future.poll(&mut Context::from_waker(&self.waker))
    }
}

impl Wakes {
    pub fn apart() -> Wakes {
        let task = Arc::new(Mutex::new(None));
        Wakes::Apart(Apart {
            client: Direction::new(&task),
            server: Direction::new(&task),
            task,
        })
    }

    /// Waits for the first of the two directions to finish, the client's
    /// first when both do at one wake-up; `client` is `None` once it has
    /// finished.
    pub async fn first<C: Future, S: Future>(
        &self,
        mut client: Option<Pin<&mut C>>,
        mut server: Pin<&mut S>,
    ) -> First<C::Output, S::Output> {
        std::future::poll_fn(|cx| {
            if let Wakes::Apart(apart) = self {
                apart.follow(cx.waker());
            }
            if let Some(client) = client.as_mut()
                && let Poll::Ready(end) = self.poll(client.as_mut(), cx, |a| &a.client)
            {
                return Poll::Ready(First::Client(end));
            }
            self.poll(server.as_mut(), cx, |a| &a.server)
                .map(First::Server)
        })
        .await
    }

    fn poll<F: Future>(
        &self,
        future: Pin<&mut F>,
        cx: &mut Context<'_>,
        direction: impl Fn(&Apart) -> &Direction,
    ) -> Poll<F::Output> {
        match self {
            Wakes::Together => future.poll(cx),
            Wakes::Apart(apart) => direction(apart).poll(future),
        }
    }
}

impl Apart {
    /// Keeps the waker of the task polling now, for the directions' wakers
    /// to wake.
    fn follow(&self, task: &Waker) {
        let mut current = lock(&self.task);
        if !current.as_ref().is_some_and(|w| w.will_wake(task)) {
            *current = Some(task.clone());
        }
    }
}

/// A poisoned lock means a panic elsewhere in this session's task, which
/// has already ended it; the waker itself is still usable.
fn lock(task: &Mutex<Option<Waker>>) -> MutexGuard<'_, Option<Waker>> {
    task.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::sync::atomic::AtomicUsize;

    /// Counts the task's wake-ups.
    #[derive(Default)]
    struct Task(AtomicUsize);

    impl Wake for Task {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A direction that counts its polls, keeps the waker it was given,
    /// and finishes once `done` is set.
    struct Side<'a> {
        polls: &'a Cell<usize>,
        waker: &'a Cell<Option<Waker>>,
        done: &'a Cell<bool>,
    }

    impl Future for Side<'_> {
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
    fn only_the_woken_direction_is_polled_and_the_client_comes_first() {
        let (client_polls, server_polls) = (Cell::new(0), Cell::new(0));
        let (client_waker, server_waker) = (Cell::new(None), Cell::new(None));
        let (client_done, server_done) = (Cell::new(false), Cell::new(false));
        let mut client = std::pin::pin!(Side {
            polls: &client_polls,
            waker: &client_waker,
            done: &client_done,
        });
        let mut server = std::pin::pin!(Side {
            polls: &server_polls,
            waker: &server_waker,
            done: &server_done,
        });
        let task = Arc::new(Task::default());
        let task_waker = Waker::from(Arc::clone(&task));
        let mut cx = Context::from_waker(&task_waker);
        let wakes = Wakes::apart();
        let mut poll = |client_open: bool| {
            let client = client_open.then_some(client.as_mut());
            let first = std::pin::pin!(wakes.first(client, server.as_mut()));
            match first.poll(&mut cx) {
                Poll::Ready(First::Client(n)) => Some(("client", n)),
                Poll::Ready(First::Server(n)) => Some(("server", n)),
                Poll::Pending => None,
            }
        };

        assert_eq!(poll(true), None);
        assert_eq!(
            (client_polls.get(), server_polls.get()),
            (1, 1),
            "both, at first"
        );
        assert_eq!(poll(true), None);
        assert_eq!(
            (client_polls.get(), server_polls.get()),
            (1, 1),
            "neither woken"
        );

        client_waker.take().unwrap().wake();
        assert_eq!(task.0.load(Ordering::Relaxed), 1, "the task is woken");
        assert_eq!(poll(true), None);
        assert_eq!((client_polls.get(), server_polls.get()), (2, 1));

        server_waker.take().unwrap().wake_by_ref();
        assert_eq!(poll(true), None);
        assert_eq!((client_polls.get(), server_polls.get()), (2, 2));

        // Both finish at one wake-up: the client's end first, and the
        // server's mark is kept for the next call.
        client_done.set(true);
        server_done.set(true);
        client_waker.take().unwrap().wake();
        server_waker.take().unwrap().wake();
        assert_eq!(poll(true), Some(("client", 3)));
        assert_eq!(poll(false), Some(("server", 3)));
    }

    #[test]
    fn together_both_directions_are_polled_at_every_wake_up() {
        let polls = [Cell::new(0), Cell::new(0)];
        let wakers = [Cell::new(None), Cell::new(None)];
        let done = Cell::new(false);
        let side = |i: usize| Side {
            polls: &polls[i],
            waker: &wakers[i],
            done: &done,
        };
        let (mut client, mut server) = (std::pin::pin!(side(0)), std::pin::pin!(side(1)));
        let task = Waker::from(Arc::new(Task::default()));
        let mut cx = Context::from_waker(&task);
        for round in 1..=3 {
            let first =
                std::pin::pin!(Wakes::Together.first(Some(client.as_mut()), server.as_mut()));
            assert!(first.poll(&mut cx).is_pending());
            assert_eq!((polls[0].get(), polls[1].get()), (round, round));
        }
        let woken = wakers[0].take().unwrap();
        assert!(woken.will_wake(&task), "the task's own waker");
    }
}
