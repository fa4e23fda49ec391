//! `TCP_NODELAY` on Postgres connections. sqlx 0.9.0 connects without it (a regression,
//! launchbadge/sqlx#4335, fixed upstream but not released yet), so a small message written
//! right after a large one waits for the server's delayed ACK: a `COPY`'s `CopyDone`, sent
//! after its batch, stalled every other batch of a load by 40 ms, a quarter of its time.
//!
//! sqlx does not hand out its socket, so once a connection is up it is found among the
//! process's descriptors by its two ports (as the server saw them), and the option is set on
//! a duplicate (`pidfd_getfd`), which shares the socket. Best effort: where the system refuses
//! (a seccomp profile without `pidfd_getfd`, a kernel older than 5.6, not Linux), the
//! connection works as before, only slower. Delete this module once sqlx sets the option.

use sqlx::PgConnection;

/// Sets `TCP_NODELAY` on `conn`'s socket when it is a TCP one. Never fails the connection:
/// a server without these functions (a look-alike behind a proxy, say) just keeps Nagle.
pub(super) async fn enable(conn: &mut PgConnection) -> sqlx::Result<()> {
    let ports: sqlx::Result<(Option<i32>, Option<i32>)> =
        sqlx::query_as("SELECT inet_client_port(), inet_server_port()").fetch_one(conn).await;
    let (client, server) = match ports {
        Ok(ports) => ports,
        Err(e) => {
            tracing::debug!(error = %e, "ports of a Postgres connection unknown; TCP_NODELAY not set");
            return Ok(());
        }
    };
    // Both are NULL on a Unix-domain socket, which has no Nagle delay.
    let (Some(client), Some(server)) = (client, server) else { return Ok(()) };
    let (Ok(client), Ok(server)) = (u16::try_from(client), u16::try_from(server)) else { return Ok(()) };
    match set(client, server) {
        Ok(true) => {}
        Ok(false) => tracing::debug!(client, "no socket with this connection's ports; TCP_NODELAY not set"),
        Err(e) => tracing::debug!(error = %e, "TCP_NODELAY not set on a Postgres connection"),
    }
    Ok(())
}

/// Sets the option on this process's TCP socket from local port `client` to remote port
/// `server`; whether one was found.
#[cfg(target_os = "linux")]
fn set(client: u16, server: u16) -> std::io::Result<bool> {
    use rustix::io::Errno;
    use rustix::net::{getpeername, getsockname, sockopt};
    use rustix::process::{getpid, pidfd_getfd, pidfd_open, PidfdFlags, PidfdGetfdFlags};
    let port = |addr| std::net::SocketAddr::try_from(addr).ok().map(|a| a.port());
    let me = pidfd_open(getpid(), PidfdFlags::empty())?;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let Some(target) = entry?.file_name().to_str().and_then(|n| n.parse().ok()) else { continue };
        let fd = match pidfd_getfd(&me, target, PidfdGetfdFlags::empty()) {
            Ok(fd) => fd,
            // Closed since it was listed (the listing's own descriptor, for one).
            Err(Errno::BADF) => continue,
            Err(e) => return Err(e.into()),
        };
        let Ok(local) = getsockname(&fd) else { continue };
        if port(local) == Some(client) && getpeername(&fd).ok().flatten().and_then(port) == Some(server) {
            sockopt::set_tcp_nodelay(&fd, true)?;
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(not(target_os = "linux"))]
fn set(_client: u16, _server: u16) -> std::io::Result<bool> {
    Ok(false)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn finds_the_client_socket_by_its_ports_and_sets_the_option() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap().port();
        let stream = TcpStream::connect(("127.0.0.1", server)).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        let client = stream.local_addr().unwrap().port();
        assert!(!stream.nodelay().unwrap(), "sockets start with Nagle's algorithm on");

        let elsewhere = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        assert!(!super::set(client, elsewhere).unwrap(), "both ports must match");
        assert!(!stream.nodelay().unwrap());
        assert!(super::set(client, server).unwrap());
        assert!(stream.nodelay().unwrap());
        assert!(!accepted.nodelay().unwrap(), "only the client's end is changed");
    }
}
