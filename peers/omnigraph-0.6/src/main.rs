//! `omnigraph-peer`: the published seed engine, omnigraph-engine 0.6.2,
//! behind Stampede's wire protocol (docs/wire-protocol.md), so the
//! reference model judges an engine we did not write (docs/peers.md).
//!
//! ```text
//! omnigraph-peer [--ops OP,..]    serve the protocol on stdin/stdout
//! ```
//!
//! `--ops` declares fewer ops than it supports, so a campaign lane can
//! leave out an op whose known difference would mask the rest.

// Lance 6's futures nest deeper than rustc's default limit of 128 (the
// engine raises its own for the same reason).
#![recursion_limit = "256"]

mod engine;
mod kinds;
mod lance_raw;

use std::process::ExitCode;

use stampede_model::Op;
use stampede_wire::{Hello, PROTOCOL};

/// The model's ops this peer cannot serve: `Stamp` (the engine has no
/// stamp reader of its own to judge: "no code outside this module should
/// ever inspect the stamp"), `Unlock` (it has no unlock) and `Check` (it
/// has no health check of a graph).
const UNSERVED: [&str; 3] = ["Stamp", "Unlock", "Check"];

/// Every op this peer can serve: the model's, less [`UNSERVED`].
fn supported() -> Vec<&'static str> {
    Op::NAMES
        .into_iter()
        .filter(|op| !UNSERVED.contains(op))
        .collect()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ops = match args.as_slice() {
        [] => supported().into_iter().map(String::from).collect(),
        [flag, list] if flag == "--ops" => match declared(list) {
            Ok(ops) => ops,
            Err(message) => {
                eprintln!("omnigraph-peer: {message}");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!(
                "usage: omnigraph-peer [--ops OP,..]   (ops: {})",
                supported().join(",")
            );
            return ExitCode::from(2);
        }
    };
    let hello = Hello {
        protocol: PROTOCOL,
        engine: "omnigraph-engine 0.6.2".into(),
        ops,
        view: true,
        // Its open says nothing of what it swept; the peer derives the
        // report from the refs before and after.
        reports_sweeps: false,
    };
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    match stampede_wire::serve(stdin, stdout, &hello, &mut engine::Omnigraph06::new()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("omnigraph-peer: the harness is gone: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The ops `--ops` names: each one this peer supports (and so the model's).
fn declared(list: &str) -> Result<Vec<String>, String> {
    list.split(',')
        .map(|op| {
            if UNSERVED.contains(&op) {
                Err(format!("{op} is an op of the model this peer cannot serve"))
            } else if Op::NAMES.contains(&op) {
                Ok(op.to_string())
            } else {
                Err(format!(
                    "{op} is no op of the model's ({})",
                    Op::NAMES.join(",")
                ))
            }
        })
        .collect()
}
