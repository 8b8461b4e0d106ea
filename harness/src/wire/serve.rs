//! `stampede serve`: our engine behind the wire protocol, through the same
//! adapter the in-process campaigns use, so a run over the wire and one in
//! process apply every op the same way (`harness/tests/wire.rs` holds them
//! to identical outcomes and views).

use std::io::{BufRead, Write};

use super::{Hello, Request, Response, PROTOCOL};
use crate::adapter::Stampede;

/// Serve requests from `input` until it closes, one answer per request,
/// declaring `hello` (all ops and views, or a part of them: what a peer
/// with less looks like to the harness). An op or view it did not declare
/// is refused. `Err` only when `output` cannot be written (the client is
/// gone).
pub fn serve(input: impl BufRead, mut output: impl Write, hello: &Hello) -> std::io::Result<()> {
    let mut engine = Stampede::serving();
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
            Ok(Request::Apply { root, op }) => Response::Outcome(engine.apply_at(&root, &op)),
            Ok(Request::View { root }) => Response::View(engine.view_at(&root).into()),
        };
        let text = serde_json::to_string(&response).expect("responses serialize");
        writeln!(output, "{text}")?;
        output.flush()?;
    }
    Ok(())
}
