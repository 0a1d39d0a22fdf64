//! The per-case listener: sniffing, TLS, proxying, recording.

use std::net::SocketAddr;
use std::sync::Arc;

use super::{Hop, TestCa};
use crate::case::{HostConfig, OriginRule};

/// Guards an origin holds itself to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// At most this many hops are answered; later requests get 508 and are
    /// not recorded, and [`Origin::hop_cap_reached`] turns true.
    pub max_hops: usize,
    /// Request bodies are recorded up to this many bytes.
    pub body_cap: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_hops: 64,
            body_cap: 4 << 20,
        }
    }
}

/// A running origin for one case. Dropping it stops the listener.
pub struct Origin {
    addr: SocketAddr,
}

impl Origin {
    /// Bind `127.0.0.1:0` and serve the script until dropped.
    pub async fn start(
        rules: Vec<OriginRule>,
        hosts: Vec<HostConfig>,
        ca: Arc<TestCa>,
        limits: Limits,
    ) -> std::io::Result<Origin> {
        let _ = (rules, hosts, ca, limits);
        todo!("origin server")
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every hop recorded so far, in arrival order.
    pub fn hops(&self) -> Vec<Hop> {
        todo!("origin server")
    }

    /// The client asked for more hops than [`Limits::max_hops`].
    pub fn hop_cap_reached(&self) -> bool {
        todo!("origin server")
    }
}
