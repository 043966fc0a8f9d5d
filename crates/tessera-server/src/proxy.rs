//! The client's address behind a load balancer (`[proxy]`): taken from the PROXY protocol
//! header (v1 text or v2 binary) that a trusted proxy puts in front of a connection, or from
//! the `X-Forwarded-For` header a trusted proxy adds to a request. What any other peer sends
//! is never believed: its own address is the client's.

use http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// How long a trusted proxy has to send the PROXY header of a connection.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the client's address comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// The TCP peer is the client (no proxy, or one that hides clients).
    None,
    /// Trusted peers add `X-Forwarded-For` to each request.
    XForwardedFor,
    /// Trusted peers open each connection with a PROXY protocol header (v1 or v2).
    ProxyProtocol,
}

/// The proxies whose word on the client's address is taken.
#[derive(Debug, Clone)]
pub struct Proxies {
    pub mode: ProxyMode,
    trusted: Vec<IpNet>,
}

impl Default for Proxies {
    fn default() -> Self {
        Proxies {
            mode: ProxyMode::None,
            trusted: Vec::new(),
        }
    }
}

impl Proxies {
    pub fn new(mode: ProxyMode, trusted: Vec<IpNet>) -> Proxies {
        Proxies { mode, trusted }
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted.iter().any(|n| n.contains(&ip))
    }

    /// Whether connections from `peer` open with a PROXY header that must be read.
    pub fn expects_header(&self, peer: IpAddr) -> bool {
        self.mode == ProxyMode::ProxyProtocol && self.trusted(peer)
    }

    /// Whether `peer` speaks for many clients (its connections are not capped as one
    /// client's: the cap applies to the clients behind it, as far as it can be known).
    pub fn forwards_requests(&self, peer: IpAddr) -> bool {
        self.mode == ProxyMode::XForwardedFor && self.trusted(peer)
    }

    /// The client of a request that `peer` sent with `headers`. In `X-Forwarded-For` mode,
    /// a trusted peer's header is read from its right end (the hop nearest to us) leftwards,
    /// past the trusted proxies, to the first address that is not one: that is the client.
    /// Anything a client wrote further left is not looked at. An entry that is not an
    /// address stops the walk at the last hop known.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.forwards_requests(peer) {
            return peer;
        }
        let mut client = peer;
        let values: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        for hop in values.iter().rev().flat_map(|v| v.rsplit(',')) {
            let Some(ip) = parse_hop(hop.trim()) else {
                return client;
            };
            client = ip.to_canonical();
            if !self.trusted(client) {
                return client;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:80`,
/// `[2001:db8::1]:80`).
fn parse_hop(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    s.parse::<SocketAddr>().ok().map(|a| a.ip())
}

/// Why a PROXY header was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProxyHeaderError {
    #[error("the connection does not start with a PROXY protocol header")]
    Missing,
    #[error("malformed PROXY protocol header: {0}")]
    Malformed(&'static str),
    #[error("the connection closed inside its PROXY protocol header")]
    Truncated,
}

const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 header, `\r\n` included (the protocol's own bound).
const V1_MAX: usize = 107;
/// The longest v2 address block accepted (addresses and TLVs).
const V2_MAX_BODY: usize = 2048;

/// What a complete PROXY header says, and how many bytes it took.
#[derive(Debug, PartialEq, Eq)]
pub struct ProxyHeader {
    /// The original client, or `None` for a header that carries none (v1 `UNKNOWN`, v2
    /// `LOCAL` or an unspecified family): the peer itself is the client then.
    pub source: Option<SocketAddr>,
    pub len: usize,
}

/// Parse a PROXY header at the start of `buf`. `Ok(None)`: more bytes are needed.
pub fn parse_header(buf: &[u8]) -> Result<Option<ProxyHeader>, ProxyHeaderError> {
    let n = buf.len().min(V2_SIGNATURE.len());
    if buf[..n] == V2_SIGNATURE[..n] {
        return if buf.len() < 16 {
            Ok(None)
        } else {
            parse_v2(buf)
        };
    }
    let n = buf.len().min(6);
    if buf[..n] != b"PROXY "[..n] {
        return Err(ProxyHeaderError::Missing);
    }
    parse_v1(buf)
}

fn parse_v1(buf: &[u8]) -> Result<Option<ProxyHeader>, ProxyHeaderError> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return if buf.len() >= V1_MAX {
            Err(ProxyHeaderError::Malformed("v1 header too long"))
        } else {
            Ok(None)
        };
    };
    let len = end + 2;
    if len > V1_MAX {
        return Err(ProxyHeaderError::Malformed("v1 header too long"));
    }
    let line = std::str::from_utf8(&buf[6..end])
        .map_err(|_| ProxyHeaderError::Malformed("v1 header is not text"))?;
    let parts: Vec<&str> = line.split(' ').collect();
    match parts.as_slice() {
        ["UNKNOWN", ..] => Ok(Some(ProxyHeader { source: None, len })),
        [family @ ("TCP4" | "TCP6"), src, dst, sport, dport] => {
            let src: IpAddr = src
                .parse()
                .map_err(|_| ProxyHeaderError::Malformed("v1 source address"))?;
            let dst: IpAddr = dst
                .parse()
                .map_err(|_| ProxyHeaderError::Malformed("v1 destination address"))?;
            let v4 = *family == "TCP4";
            if src.is_ipv4() != v4 || dst.is_ipv4() != v4 {
                return Err(ProxyHeaderError::Malformed("v1 address family"));
            }
            let port = |p: &str| {
                // Decimal, no sign, no leading zero.
                if p.is_empty() || p.len() > 5 || (p.len() > 1 && p.starts_with('0')) {
                    return Err(ProxyHeaderError::Malformed("v1 port"));
                }
                p.parse::<u16>()
                    .map_err(|_| ProxyHeaderError::Malformed("v1 port"))
            };
            let sport = port(sport)?;
            port(dport)?;
            Ok(Some(ProxyHeader {
                source: Some(SocketAddr::new(src, sport)),
                len,
            }))
        }
        _ => Err(ProxyHeaderError::Malformed("v1 header fields")),
    }
}

fn parse_v2(buf: &[u8]) -> Result<Option<ProxyHeader>, ProxyHeaderError> {
    let ver_cmd = buf[12];
    if ver_cmd >> 4 != 2 {
        return Err(ProxyHeaderError::Malformed("v2 version"));
    }
    let body = u16::from_be_bytes([buf[14], buf[15]]) as usize;
    if body > V2_MAX_BODY {
        return Err(ProxyHeaderError::Malformed("v2 header too long"));
    }
    let len = 16 + body;
    if buf.len() < len {
        return Ok(None);
    }
    let addr = &buf[16..len];
    let source = match ver_cmd & 0x0f {
        // LOCAL: the proxy's own connection (a health check): no client behind it.
        0 => None,
        1 => match buf[13] >> 4 {
            0 => None,
            1 => {
                if addr.len() < 12 {
                    return Err(ProxyHeaderError::Malformed("v2 IPv4 addresses"));
                }
                let ip = Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]);
                Some(SocketAddr::new(
                    ip.into(),
                    u16::from_be_bytes([addr[8], addr[9]]),
                ))
            }
            2 => {
                if addr.len() < 36 {
                    return Err(ProxyHeaderError::Malformed("v2 IPv6 addresses"));
                }
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&addr[..16]);
                Some(SocketAddr::new(
                    Ipv6Addr::from(octets).into(),
                    u16::from_be_bytes([addr[32], addr[33]]),
                ))
            }
            // AF_UNIX and others: no IP address to use.
            _ => None,
        },
        _ => return Err(ProxyHeaderError::Malformed("v2 command")),
    };
    Ok(Some(ProxyHeader { source, len }))
}

/// Read the PROXY header that opens `stream` (peeking, then consuming exactly the header,
/// so the HTTP bytes after it stay for hyper). The client's address, or `None` when the
/// header names none.
pub async fn read_header(
    stream: &mut tokio::net::TcpStream,
) -> Result<Option<SocketAddr>, ProxyHeaderError> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 16 + V2_MAX_BODY];
    let mut seen = 0;
    loop {
        let n = stream
            .peek(&mut buf)
            .await
            .map_err(|_| ProxyHeaderError::Truncated)?;
        if n == 0 {
            return Err(ProxyHeaderError::Truncated);
        }
        if let Some(h) = parse_header(&buf[..n])? {
            let mut consumed = vec![0u8; h.len];
            stream
                .read_exact(&mut consumed)
                .await
                .map_err(|_| ProxyHeaderError::Truncated)?;
            return Ok(h.source);
        }
        if n == seen {
            // Nothing new since the last peek (the socket stays readable while the peeked
            // bytes are unread): look again in a millisecond. The caller's timeout bounds it.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        seen = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn proxies(mode: ProxyMode, nets: &[&str]) -> Proxies {
        Proxies::new(mode, nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let p = proxies(ProxyMode::XForwardedFor, &["10.0.0.0/8"]);
        let lb: IpAddr = "10.1.2.3".parse().unwrap();
        let direct: IpAddr = "198.51.100.20".parse().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(p.client_of(lb, &xff(&["203.0.113.9"])), ip("203.0.113.9"));
        // A client's own header is not believed.
        assert_eq!(p.client_of(direct, &xff(&["203.0.113.9"])), direct);
        // Trusted hops are walked past; the spoofed leftmost entry is never reached.
        assert_eq!(
            p.client_of(lb, &xff(&["1.1.1.1, 203.0.113.9, 10.9.9.9"])),
            ip("203.0.113.9")
        );
        // Several header lines are one list, in order.
        assert_eq!(
            p.client_of(lb, &xff(&["1.1.1.1", "203.0.113.9:5555, 10.9.9.9"])),
            ip("203.0.113.9")
        );
        // Garbage stops the walk at the last hop known.
        assert_eq!(p.client_of(lb, &xff(&["203.0.113.9, junk"])), lb);
        assert_eq!(p.client_of(lb, &xff(&["junk, 10.9.9.9"])), ip("10.9.9.9"));
        // No header: the proxy itself.
        assert_eq!(p.client_of(lb, &HeaderMap::new()), lb);
        // IPv4 in IPv6 form is the IPv4 address.
        assert_eq!(
            p.client_of(lb, &xff(&["::ffff:203.0.113.9"])),
            ip("203.0.113.9")
        );
        // Other modes never read the header.
        let none = proxies(ProxyMode::None, &["10.0.0.0/8"]);
        assert_eq!(none.client_of(lb, &xff(&["203.0.113.9"])), lb);
        let pp = proxies(ProxyMode::ProxyProtocol, &["10.0.0.0/8"]);
        assert_eq!(pp.client_of(lb, &xff(&["203.0.113.9"])), lb);
    }

    #[test]
    fn proxy_v1_headers() {
        let h = parse_header(b"PROXY TCP4 192.0.2.10 10.0.0.1 5555 4566\r\nGET /").unwrap();
        assert_eq!(
            h,
            Some(ProxyHeader {
                source: Some("192.0.2.10:5555".parse().unwrap()),
                len: 42
            })
        );
        let h = parse_header(b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.source, Some("[2001:db8::1]:1".parse().unwrap()));
        assert_eq!(
            parse_header(b"PROXY UNKNOWN\r\n").unwrap().unwrap().source,
            None
        );
        assert_eq!(parse_header(b"PROXY TCP4 192.0.2.10 10.0").unwrap(), None);
        assert_eq!(parse_header(b"PRO").unwrap(), None);
        assert_eq!(
            parse_header(b"GET / HTTP/1.1\r\n"),
            Err(ProxyHeaderError::Missing)
        );
        for bad in [
            &b"PROXY TCP4 192.0.2.10 10.0.0.1 5555\r\n"[..],
            b"PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n",
            b"PROXY TCP4 192.0.2.10 10.0.0.1 05555 4566\r\n",
            b"PROXY TCP4 192.0.2.10 10.0.0.1 70000 4566\r\n",
            b"PROXY UDP4 192.0.2.10 10.0.0.1 1 2\r\n",
        ] {
            assert!(
                matches!(parse_header(bad), Err(ProxyHeaderError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = [b"PROXY ".as_slice(), &[b'x'; 200]].concat();
        assert!(matches!(
            parse_header(&long),
            Err(ProxyHeaderError::Malformed(_))
        ));
    }

    fn v2(cmd: u8, fam: u8, addr: &[u8]) -> Vec<u8> {
        let mut b = V2_SIGNATURE.to_vec();
        b.push(0x20 | cmd);
        b.push(fam);
        b.extend_from_slice(&(addr.len() as u16).to_be_bytes());
        b.extend_from_slice(addr);
        b
    }

    #[test]
    fn proxy_v2_headers() {
        let mut a = vec![192, 0, 2, 10, 10, 0, 0, 1];
        a.extend_from_slice(&5555u16.to_be_bytes());
        a.extend_from_slice(&4566u16.to_be_bytes());
        a.extend_from_slice(&[0x04, 0, 1, 0]); // a TLV after the addresses
        let h = v2(1, 0x11, &a);
        let parsed = parse_header(&[h.as_slice(), b"GET /"].concat())
            .unwrap()
            .unwrap();
        assert_eq!(parsed.source, Some("192.0.2.10:5555".parse().unwrap()));
        assert_eq!(parsed.len, h.len());
        let mut a6 = "2001:db8::1".parse::<Ipv6Addr>().unwrap().octets().to_vec();
        a6.extend_from_slice(&[0; 16]);
        a6.extend_from_slice(&7u16.to_be_bytes());
        a6.extend_from_slice(&8u16.to_be_bytes());
        let parsed = parse_header(&v2(1, 0x21, &a6)).unwrap().unwrap();
        assert_eq!(parsed.source, Some("[2001:db8::1]:7".parse().unwrap()));
        // LOCAL: a health check from the proxy itself.
        assert_eq!(parse_header(&v2(0, 0, &[])).unwrap().unwrap().source, None);
        // Not all there yet.
        assert_eq!(parse_header(&h[..20]).unwrap(), None);
        assert_eq!(parse_header(&h[..5]).unwrap(), None);
        // Short address blocks, a bad version or command.
        assert!(parse_header(&v2(1, 0x11, &[1, 2, 3])).is_err());
        let mut bad = h.clone();
        bad[12] = 0x31;
        assert!(parse_header(&bad).is_err());
        let mut bad = h.clone();
        bad[12] = 0x2f;
        assert!(parse_header(&bad).is_err());
        let mut huge = v2(1, 0x11, &[]);
        huge[14..16].copy_from_slice(&60000u16.to_be_bytes());
        assert!(parse_header(&huge).is_err());
    }

    proptest! {
        /// Any bytes: an answer (header, need more, refusal), never a panic; a header never
        /// claims more bytes than it was given.
        #[test]
        fn parse_header_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(Some(h)) = parse_header(&bytes) {
                prop_assert!(h.len <= bytes.len());
            }
        }

        /// A v2 header after arbitrary splits parses to the same client once complete.
        #[test]
        fn v2_parses_once_complete(ip in any::<[u8; 4]>(), port in any::<u16>(), tlv in proptest::collection::vec(any::<u8>(), 0..64), cut in 0usize..200) {
            let mut a = ip.to_vec();
            a.extend_from_slice(&[10, 0, 0, 1]);
            a.extend_from_slice(&port.to_be_bytes());
            a.extend_from_slice(&4566u16.to_be_bytes());
            a.extend_from_slice(&tlv);
            let h = v2(1, 0x11, &a);
            let cut = cut.min(h.len());
            if cut < h.len() {
                prop_assert_eq!(parse_header(&h[..cut]).unwrap(), None);
            }
            let parsed = parse_header(&h).unwrap().unwrap();
            prop_assert_eq!(parsed.source, Some(SocketAddr::new(Ipv4Addr::from(ip).into(), port)));
        }

        /// A v1 header for any IPv4 client and port round-trips.
        #[test]
        fn v1_round_trips(ip in any::<[u8; 4]>(), port in any::<u16>()) {
            let line = format!("PROXY TCP4 {} 10.0.0.1 {port} 4566\r\n", Ipv4Addr::from(ip));
            let parsed = parse_header(line.as_bytes()).unwrap().unwrap();
            prop_assert_eq!(parsed.len, line.len());
            prop_assert_eq!(parsed.source, Some(SocketAddr::new(Ipv4Addr::from(ip).into(), port)));
        }
    }
}
