//! Live capture from a network interface through libpcap.

use crate::{CaptureError, LinkType, Micros, Packet};

/// How to open a live capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOptions {
    /// Interface name (`eth0`, `lo`, `any`).
    pub interface: String,
    /// BPF filter expression (for example `port 53`, or built from the DNS ports by the caller).
    pub bpf: String,
    /// Bytes captured per frame.
    pub snaplen: i32,
    /// Put the interface into promiscuous mode.
    pub promiscuous: bool,
    /// Kernel capture buffer (ring) size in bytes.
    pub buffer_bytes: i32,
    /// Read timeout in milliseconds; [`LiveSource::next`] returns `Ok(None)` after it.
    pub timeout_ms: i32,
    /// Joins this `PACKET_FANOUT` group (hash mode, with defragmentation) so several sockets share the
    /// traffic by flow. Linux only.
    pub fanout: Option<u16>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            interface: "any".into(),
            bpf: "port 53".into(),
            snaplen: 65_535,
            promiscuous: false,
            buffer_bytes: 32 << 20,
            timeout_ms: 100,
            fanout: None,
        }
    }
}

/// Builds a BPF filter for DNS on the given ports that also keeps IP fragments (fragments after the first
/// carry no ports, so a plain `port 53` filter would make reassembly impossible).
pub fn dns_filter(udp_ports: &[u16], tcp_ports: &[u16]) -> String {
    let ports = |proto: &str, ports: &[u16]| {
        let list: Vec<String> = ports.iter().map(|p| format!("port {p}")).collect();
        format!("({proto} and ({}))", list.join(" or "))
    };
    let mut parts = Vec::new();
    if !udp_ports.is_empty() {
        parts.push(ports("udp", udp_ports));
    }
    if !tcp_ports.is_empty() {
        parts.push(ports("tcp", tcp_ports));
    }
    parts.push("(ip and ip[6:2] & 0x3fff != 0)".into());
    parts.push("(ip6 and ip6[6] == 44)".into());
    parts.join(" or ")
}

/// Kernel capture counters (`pcap_stats`), since the capture was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Packets received by the filter.
    pub received: u64,
    /// Packets dropped because the buffer was full.
    pub dropped: u64,
    /// Packets dropped by the interface or its driver.
    pub if_dropped: u64,
}

/// A live capture handle.
pub struct LiveSource {
    cap: pcap::Capture<pcap::Active>,
    interface: String,
    linktype: LinkType,
    index: u64,
    timeout_ms: i32,
    /// The last read returned a packet, so libpcap may have more without the socket being readable.
    maybe_pending: bool,
}

impl std::fmt::Debug for LiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSource").field("interface", &self.interface).field("linktype", &self.linktype).finish()
    }
}

fn message(e: pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(m) => m,
        e => e.to_string(),
    }
}

impl LiveSource {
    /// Opens and activates the interface, joins the fanout group if asked, and installs the BPF filter.
    pub fn open(opts: &LiveOptions) -> Result<LiveSource, CaptureError> {
        let interface = opts.interface.clone();
        let live = |m: String| CaptureError::Live { interface: interface.clone(), message: m };
        let inactive = pcap::Capture::from_device(opts.interface.as_str()).map_err(|e| live(message(e)))?;
        let mut cap = inactive
            .promisc(opts.promiscuous)
            .snaplen(opts.snaplen)
            .buffer_size(opts.buffer_bytes)
            .timeout(opts.timeout_ms)
            .open()
            .map_err(|e| {
                let m = message(e);
                let lower = m.to_ascii_lowercase();
                if lower.contains("no such device") || lower.contains("doesn't exist") {
                    CaptureError::NoSuchDevice { interface: interface.clone(), message: m }
                } else if lower.contains("permission") || lower.contains("not permitted") {
                    CaptureError::Permission { interface: interface.clone(), message: m }
                } else {
                    live(m)
                }
            })?;
        if let Some(group) = opts.fanout {
            join_fanout(&cap, group).map_err(|e| live(format!("cannot join PACKET_FANOUT group {group}: {e}")))?;
        }
        cap.filter(&opts.bpf, true)
            .map_err(|e| CaptureError::BadFilter { filter: opts.bpf.clone(), message: message(e) })?;
        // With TPACKET_V3 libpcap's read timeout does not fire while no packet arrives at all, so the
        // handle is non-blocking and `next` waits with poll(2) itself.
        let cap = cap.setnonblock().map_err(|e| live(message(e)))?;
        let linktype = LinkType::from_dlt(cap.get_datalink().0 as u32);
        Ok(LiveSource { cap, interface, linktype, index: 0, timeout_ms: opts.timeout_ms, maybe_pending: true })
    }

    /// Waits up to the read timeout for the capture socket to become readable.
    fn wait(&self) -> Result<bool, CaptureError> {
        use std::os::fd::AsRawFd;
        let mut pfd = libc::pollfd { fd: self.cap.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd, count 1; the descriptor stays open while `self.cap` lives.
        let rc = unsafe { libc::poll(&mut pfd, 1, self.timeout_ms.max(0)) };
        if rc >= 0 {
            return Ok(rc > 0);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::Interrupted {
            return Ok(false);
        }
        Err(CaptureError::Live { interface: self.interface.clone(), message: format!("poll: {e}") })
    }

    /// Next frame, or `Ok(None)` when the read timeout passed with nothing (so the caller can do periodic
    /// work and check for shutdown). May also return `Ok(None)` once right after a burst.
    // Not `Iterator::next`: the packet borrows the capture buffer (a lending iterator).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        // libpcap may still hold packets of the current ring block even when the socket is not readable,
        // so poll only after a read found nothing.
        if !self.maybe_pending && !self.wait()? {
            return Ok(None);
        }
        match self.cap.next_packet() {
            Ok(p) => {
                self.maybe_pending = true;
                self.index += 1;
                let ts = p.header.ts.tv_sec as Micros * 1_000_000 + p.header.ts.tv_usec as Micros;
                Ok(Some(Packet {
                    index: self.index,
                    ts,
                    linktype: self.linktype,
                    data: p.data,
                    orig_len: p.header.len,
                }))
            }
            Err(pcap::Error::TimeoutExpired) | Err(pcap::Error::NoMorePackets) => {
                self.maybe_pending = false;
                Ok(None)
            }
            Err(e) => Err(CaptureError::Live { interface: self.interface.clone(), message: message(e) }),
        }
    }

    /// Kernel counters: received, dropped by the kernel, dropped by the interface.
    pub fn stats(&mut self) -> Result<LiveStats, CaptureError> {
        let s = self
            .cap
            .stats()
            .map_err(|e| CaptureError::Live { interface: self.interface.clone(), message: message(e) })?;
        Ok(LiveStats { received: s.received.into(), dropped: s.dropped.into(), if_dropped: s.if_dropped.into() })
    }

    /// Link type of the frames.
    pub fn linktype(&self) -> LinkType {
        self.linktype
    }
}

#[cfg(target_os = "linux")]
fn join_fanout(cap: &pcap::Capture<pcap::Active>, group: u16) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let mode = libc::PACKET_FANOUT_HASH | libc::PACKET_FANOUT_FLAG_DEFRAG;
    let val: libc::c_uint = libc::c_uint::from(group) | (mode << 16);
    // SAFETY: the descriptor is libpcap's open packet socket, owned by `cap` for the duration of the call;
    // the option value is a plain 4-byte integer whose size is passed alongside.
    let rc = unsafe {
        libc::setsockopt(
            cap.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_FANOUT,
            (&val as *const libc::c_uint).cast(),
            std::mem::size_of::<libc::c_uint>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn join_fanout(_cap: &pcap::Capture<pcap::Active>, _group: u16) -> std::io::Result<()> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "PACKET_FANOUT is Linux-only"))
}
