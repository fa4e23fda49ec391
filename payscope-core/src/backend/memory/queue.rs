//! The in-process job queue: bounded, with leases, retries with backoff and a dead letter.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::Notify;

use crate::error::{Error, Result};
use crate::store::jobs::{
    backoff, ClaimedJob, FailOutcome, Job, JobId, JobQueue, Liveness, MAX_ATTEMPTS, STALE,
};

#[derive(Debug, Default)]
struct State {
    ready: VecDeque<Job>,
    delayed: Vec<(Instant, Job)>,
    in_flight: HashMap<JobId, (Job, Instant)>,
    /// When each worker was last heard from.
    workers: HashMap<String, Instant>,
    dead: Vec<(Job, String)>,
}

impl State {
    fn promote_due(&mut self, now: Instant) {
        let (due, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.delayed).into_iter().partition(|(t, _)| *t <= now);
        self.delayed = later;
        self.ready.extend(due.into_iter().map(|(_, j)| j));
        let expired: Vec<JobId> =
            self.in_flight.iter().filter(|(_, (_, d))| *d <= now).map(|(id, _)| *id).collect();
        for id in expired {
            if let Some((job, _)) = self.in_flight.remove(&id) {
                self.ready.push_back(job);
            }
        }
    }

    fn next_wakeup(&self) -> Option<Instant> {
        self.delayed.iter().map(|(t, _)| *t).chain(self.in_flight.values().map(|(_, d)| *d)).min()
    }
}

/// A bounded in-process queue.
#[derive(Debug)]
pub struct MemoryQueue {
    state: Mutex<State>,
    notify: Notify,
    capacity: usize,
    lease: Duration,
}

impl MemoryQueue {
    /// A queue holding at most `capacity` jobs, whose claims expire after `lease`.
    pub fn new(capacity: usize, lease: Duration) -> Self {
        MemoryQueue { state: Mutex::new(State::default()), notify: Notify::new(), capacity, lease }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Jobs moved to the dead letter, with the last failure.
    pub fn dead_letters(&self) -> Vec<(Job, String)> {
        self.lock().dead.clone()
    }
}

#[async_trait]
impl JobQueue for MemoryQueue {
    async fn enqueue(&self, job: Job) -> Result<()> {
        {
            let mut s = self.lock();
            if s.ready.len() + s.delayed.len() + s.in_flight.len() >= self.capacity {
                return Err(Error::unavailable(
                    "job_queue",
                    format!("the queue is full ({} jobs)", self.capacity),
                ));
            }
            s.ready.push_back(job);
        }
        self.notify.notify_one();
        Ok(())
    }

    async fn claim(&self, worker: &str, wait: Duration) -> Result<Option<ClaimedJob>> {
        let deadline = Instant::now() + wait;
        loop {
            let notified = self.notify.notified();
            let wake = {
                let now = Instant::now();
                let mut s = self.lock();
                s.promote_due(now);
                if let Some(mut job) = s.ready.pop_front() {
                    job.attempt += 1;
                    s.in_flight.insert(job.id, (job.clone(), now + self.lease));
                    return Ok(Some(ClaimedJob { job, receipt: worker.to_owned() }));
                }
                s.next_wakeup().map_or(deadline, |t| t.min(deadline))
            };
            if Instant::now() >= deadline {
                return Ok(None);
            }
            let _ = tokio::time::timeout_at(wake.into(), notified).await;
        }
    }

    async fn complete(&self, job: &ClaimedJob) -> Result<()> {
        self.lock().in_flight.remove(&job.job.id);
        Ok(())
    }

    async fn fail(&self, job: &ClaimedJob, reason: &str) -> Result<FailOutcome> {
        let mut s = self.lock();
        s.in_flight.remove(&job.job.id);
        if job.job.attempt >= MAX_ATTEMPTS {
            s.dead.push((job.job.clone(), reason.to_owned()));
            return Ok(FailOutcome::DeadLettered);
        }
        let after = backoff(job.job.attempt);
        s.delayed.push((Instant::now() + after, job.job.clone()));
        drop(s);
        self.notify.notify_one();
        Ok(FailOutcome::Retry { after })
    }

    async fn release(&self, job: &ClaimedJob) -> Result<()> {
        {
            let mut s = self.lock();
            if s.in_flight.remove(&job.job.id).is_some() {
                let mut j = job.job.clone();
                j.attempt = j.attempt.saturating_sub(1);
                s.ready.push_front(j);
            }
        }
        self.notify.notify_one();
        Ok(())
    }

    async fn extend(&self, job: &ClaimedJob) -> Result<()> {
        if let Some((held, until)) = self.lock().in_flight.get_mut(&job.job.id) {
            if held.attempt == job.job.attempt {
                *until = Instant::now() + self.lease;
            }
        }
        Ok(())
    }

    fn lease(&self) -> Duration {
        self.lease
    }

    async fn depth(&self) -> Result<u64> {
        let s = self.lock();
        Ok((s.ready.len() + s.delayed.len() + s.in_flight.len()) as u64)
    }

    async fn heartbeat(&self, worker: &str) -> Result<()> {
        let mut s = self.lock();
        let now = Instant::now();
        s.workers.retain(|_, seen| now.duration_since(*seen) < STALE);
        s.workers.insert(worker.to_owned(), now);
        Ok(())
    }

    async fn liveness(&self) -> Result<Liveness> {
        let s = self.lock();
        let live = s.workers.values().filter(|seen| seen.elapsed() < STALE).count() as u64;
        let now = crate::calendar::Timestamp::now().0;
        let oldest = s.ready.iter().map(|j| j.enqueued_at.0).min();
        Ok(Liveness {
            live_workers: live,
            oldest_waiting: oldest.map(|t| Duration::from_millis(now.saturating_sub(t).max(0) as u64)),
        })
    }
}
