//! The server side of the protocol, for any engine: read requests, answer
//! each in order, refuse what was not declared. `stampede serve` and every
//! peer in `peers/` run this loop, so they greet and refuse alike.

use std::io::{BufRead, Write};

use stampede_model::{Op, Outcome, View};

use crate::{Hello, Request, Response, PROTOCOL};

/// An engine behind the wire: what a peer implements.
pub trait Engine {
    /// Apply `op` to the graph at `root` with the one handle the engine
    /// holds (ops that open or init replace it).
    fn apply(&mut self, root: &str, op: &Op) -> Outcome;
    /// Observe the graph at `root` and, through the held handle, what it
    /// lists and its rows.
    fn view(&mut self, root: &str) -> View;
}

/// Serve requests from `input` until it closes, one answer per request,
/// declaring `hello`. An op or a view it did not declare is refused, as is
/// anything before `hello`. `Err` only when `output` cannot be written
/// (the client is gone).
pub fn serve(
    input: impl BufRead,
    mut output: impl Write,
    hello: &Hello,
    engine: &mut impl Engine,
) -> std::io::Result<()> {
    let mut greeted = false;
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let response = match serde_json::from_str::<Request>(&line) {
            Err(e) => Response::Refused {
                message: format!("not a request of protocol {PROTOCOL} ({e}): {line}"),
            },
            Ok(Request::Hello { protocol }) if protocol == PROTOCOL => {
                greeted = true;
                Response::Hello(hello.clone())
            }
            Ok(Request::Hello { protocol }) => Response::Refused {
                message: format!("this peer speaks protocol {PROTOCOL}, not {protocol}"),
            },
            Ok(_) if !greeted => Response::Refused {
                message: "the first request must be hello".into(),
            },
            Ok(Request::Apply { op, .. }) if !hello.supports(op.name()) => Response::Refused {
                message: format!("{} is not among the ops this peer declared", op.name()),
            },
            Ok(Request::View { .. }) if !hello.view => Response::Refused {
                message: "this peer declared no views".into(),
            },
            Ok(Request::Apply { root, op }) => Response::Outcome(engine.apply(&root, &op)),
            Ok(Request::View { root }) => Response::View(engine.view(&root).into()),
        };
        let text = serde_json::to_string(&response).expect("responses serialize");
        writeln!(output, "{text}")?;
        output.flush()?;
    }
    Ok(())
}
