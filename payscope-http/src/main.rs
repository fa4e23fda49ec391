//! `payscope-http`: the HTTP API (built out in the HTTP issue).

fn main() {
    println!("payscope-http: not yet wired; see README");
}
