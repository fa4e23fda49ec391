//! `payscope-worker`: the ingestion worker (built out in the HTTP issue).

fn main() {
    println!("payscope-worker: not yet wired; see README");
}
