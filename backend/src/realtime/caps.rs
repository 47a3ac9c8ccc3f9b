//! Caps on how many visitor sockets one guest and one client address may hold open at once, so
//! one token (or one host) cannot open hundreds of sockets and pin their memory.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, Hash, Hasher as _, RandomState};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Counts open visitor sockets per guest and per client address (IPv4 address, IPv6 /64).
pub struct SocketCaps {
    per_guest: u32,
    per_ip: u32,
    /// Keys are hashed with a per-process random seed: a slot then holds two integers rather than
    /// two strings, and a client cannot aim collisions at another's count.
    hasher: RandomState,
    open: Mutex<HashMap<u64, u32>>,
}

/// Which cap refused a socket.
#[derive(Debug, PartialEq, Eq)]
pub enum CapReached {
    /// The guest already has its maximum of sockets open.
    Guest,
    /// The client address (or its IPv6 /64) already has its maximum of sockets open.
    Address,
}

/// One open socket's place under the caps; given back when dropped.
pub struct SocketSlot {
    caps: Arc<SocketCaps>,
    guest: u64,
    ip: u64,
}

impl SocketCaps {
    /// At most `per_guest` sockets per guest and `per_ip` per client address.
    pub fn new(per_guest: u32, per_ip: u32) -> SocketCaps {
        SocketCaps {
            per_guest,
            per_ip,
            hasher: RandomState::new(),
            open: Mutex::default(),
        }
    }

    fn key(&self, kind: u8, value: impl Hash) -> u64 {
        let mut h = self.hasher.build_hasher();
        kind.hash(&mut h);
        value.hash(&mut h);
        h.finish()
    }

    /// Takes a place for one more socket of `visitor_id` from `ip`, or says which cap is reached.
    pub fn acquire(
        self: &Arc<Self>,
        visitor_id: &str,
        ip: IpAddr,
    ) -> Result<SocketSlot, CapReached> {
        let guest = self.key(b'g', visitor_id);
        let ip = self.key(b'a', crate::limits::ip_key(ip));
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.get(&guest).copied().unwrap_or(0) >= self.per_guest {
            return Err(CapReached::Guest);
        }
        if open.get(&ip).copied().unwrap_or(0) >= self.per_ip {
            return Err(CapReached::Address);
        }
        *open.entry(guest).or_default() += 1;
        *open.entry(ip).or_default() += 1;
        Ok(SocketSlot {
            caps: self.clone(),
            guest,
            ip,
        })
    }

    fn release(&self, keys: [u64; 2]) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            if let Some(n) = open.get_mut(&key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.remove(&key);
                }
            }
        }
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        self.caps.release([self.guest, self.ip]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guests_and_addresses_are_capped_and_slots_given_back() {
        let caps = Arc::new(SocketCaps::new(2, 3));
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2::99".parse().unwrap();
        let other: IpAddr = "192.0.2.7".parse().unwrap();
        let s1 = caps.acquire("v1", a).unwrap();
        let _s2 = caps.acquire("v1", same_64).unwrap();
        assert_eq!(caps.acquire("v1", other).err(), Some(CapReached::Guest));
        let _s3 = caps.acquire("v2", a).unwrap();
        assert_eq!(
            caps.acquire("v3", same_64).err(),
            Some(CapReached::Address),
            "one IPv6 /64 counts as one address"
        );
        assert!(caps.acquire("v3", other).is_ok());
        drop(s1);
        assert!(
            caps.acquire("v3", a).is_ok(),
            "a closed socket frees its place"
        );
        drop(_s2);
        drop(_s3);
        assert!(
            caps.open.lock().unwrap().is_empty(),
            "no entries kept for nobody"
        );
    }
}
