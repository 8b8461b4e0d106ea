//! A loopback HTTP proxy in front of an S3 server that loses one answer:
//! it forwards a matching request, lets the server apply it, then answers
//! the client `503` instead of the server's reply. object_store retries a
//! 5xx, even a conditional put, so a put that landed comes back as `412`
//! on its retry: the case a probe above object_store cannot make.
//!
//! One request per client connection (the lane's clients pool nothing),
//! forwarded with `Connection: close` and relayed until the server closes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Which request loses its answer: after `skip` others, the next one with
/// this method whose path contains `scope` and `path_part`, and (if set)
/// that carries `header`. One rule is armed per scope, so tests sharing a
/// process's proxy (each in a graph root of its own) never take each
/// other's faults.
#[derive(Clone, Debug)]
pub struct Rule {
    /// The part of every path this rule may match, e.g. a graph's root:
    /// `""` for any.
    pub scope: String,
    pub method: &'static str,
    pub path_part: String,
    pub header: Option<&'static str>,
    pub skip: usize,
}

pub struct FaultProxy {
    endpoint: String,
    armed: Arc<Mutex<Vec<Rule>>>,
    injected: Arc<AtomicU64>,
}

impl FaultProxy {
    /// Listen on a free 127.0.0.1 port in front of `upstream`
    /// (`http://127.0.0.1:PORT`). The listener's thread lives as long as
    /// the process: a test's proxy is as short-lived as its server.
    pub fn start(upstream: &str) -> std::io::Result<FaultProxy> {
        let upstream = upstream
            .strip_prefix("http://")
            .ok_or_else(|| std::io::Error::other(format!("not an http endpoint: {upstream}")))?
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let armed: Arc<Mutex<Vec<Rule>>> = Arc::default();
        let injected: Arc<AtomicU64> = Arc::default();
        let (rule, count) = (armed.clone(), injected.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let (upstream, rule, count) = (upstream.clone(), rule.clone(), count.clone());
                std::thread::spawn(move || {
                    let _ = relay(client, &upstream, &rule, &count);
                });
            }
        });
        Ok(FaultProxy {
            endpoint,
            armed,
            injected,
        })
    }

    /// `http://127.0.0.1:PORT`: the endpoint clients are given instead of
    /// the server's.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Lose the answer of the next request `rule` matches (once), in place
    /// of any rule armed in its scope.
    pub fn lose_next_answer(&self, rule: Rule) {
        let mut armed = self.armed.lock().expect("the rules");
        armed.retain(|r| r.scope != rule.scope);
        armed.push(rule);
    }

    /// Forget the rule armed in `scope` if its request never came; whether
    /// it had come (and lost its answer).
    pub fn disarm(&self, scope: &str) -> bool {
        let mut armed = self.armed.lock().expect("the rules");
        let before = armed.len();
        armed.retain(|r| r.scope != scope);
        armed.len() == before
    }

    /// How many answers were lost so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }
}

/// One request: read it, forward it, relay or lose the answer.
fn relay(
    client: TcpStream,
    upstream: &str,
    armed: &Mutex<Vec<Rule>>,
    injected: &AtomicU64,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        headers.push(line);
    }
    let header = |name: &str| {
        headers.iter().find_map(|h| {
            let (key, value) = h.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    };
    let body = read_body(
        &mut reader,
        header("content-length"),
        header("transfer-encoding"),
    )?;
    head.extend_from_slice(request_line.as_bytes());
    for h in headers
        .iter()
        .filter(|h| !h.to_ascii_lowercase().starts_with("connection:"))
    {
        head.extend_from_slice(h.as_bytes());
    }
    head.extend_from_slice(b"Connection: close\r\n\r\n");

    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let lose = {
        let mut armed = armed.lock().expect("the rules");
        let matching = armed.iter().position(|r| {
            r.method == method
                && path.contains(&r.scope)
                && path.contains(&r.path_part)
                && r.header.is_none_or(|h| header(h).is_some())
        });
        match matching {
            Some(at) if armed[at].skip > 0 => {
                armed[at].skip -= 1;
                None
            }
            Some(at) => Some(armed.remove(at)),
            None => None,
        }
    };
    let forwarded = (|| {
        let mut server = TcpStream::connect(upstream)?;
        server.write_all(&head)?;
        server.write_all(&body)?;
        let mut answer = Vec::new();
        server.read_to_end(&mut answer)?;
        Ok::<_, std::io::Error>(answer)
    })();
    let answer = match forwarded {
        Ok(answer) => answer,
        Err(e) => {
            // The request never landed: its rule waits for the next one.
            if let Some(rule) = lose {
                armed.lock().expect("the rules").push(rule);
            }
            return Err(e);
        }
    };
    let mut client = client;
    if lose.is_some() {
        injected.fetch_add(1, Ordering::SeqCst);
        client.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
    } else {
        client.write_all(&answer)?;
    }
    client.flush()
}

/// The request's body, by its length or its chunks (kept framed: it is
/// forwarded as it came).
fn read_body(
    reader: &mut BufReader<TcpStream>,
    length: Option<String>,
    encoding: Option<String>,
) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if encoding.is_some_and(|e| e.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            body.extend_from_slice(size_line.as_bytes());
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(std::io::Error::other)?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            if size == 0 {
                return Ok(body);
            }
        }
    }
    let length: usize = length.and_then(|l| l.parse().ok()).unwrap_or(0);
    body.resize(length, 0);
    reader.read_exact(&mut body)?;
    Ok(body)
}
