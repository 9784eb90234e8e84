//! GetWorkflowExecutionHistory (paginated, long poll, close-event filter) and its reverse.
use crate::history::query::workflow_of;
use crate::prelude::*;

impl Engine {
    /// GetWorkflowExecutionHistory with pagination and long poll.
    pub async fn history(
        &self,
        req: ws::GetWorkflowExecutionHistoryRequest,
        timeout: Option<std::time::Duration>,
    ) -> RpcResult<ws::GetWorkflowExecutionHistoryResponse> {
        let mut stop = self.closing.subscribe();
        let deadline = poll_deadline(timeout);
        let close_only = req.history_event_filter_type == HistoryEventFilterType::CloseEvent as i32;
        let from = if req.next_page_token.len() == 8 {
            let mut b = [0u8; 8];
            b.copy_from_slice(&req.next_page_token);
            i64::from_be_bytes(b)
        } else if req.next_page_token.is_empty() {
            1
        } else {
            return Err(status::invalid("malformed next_page_token"));
        };
        let page = if req.maximum_page_size > 0 {
            req.maximum_page_size as usize
        } else {
            1000
        };
        loop {
            // What the page shows is answered only once durable (as the RPC that wrote it is),
            // so no reader sees an event that a crash could still take back.
            let ready = {
                let mut g = self.lock_workflow(&req.namespace, workflow_of(&req.execution));
                let seq = g.queued_seq();
                read_page(&mut g, &req, from, page, close_only)
                    .map(|r| r.map(|resp| (resp, seq)))?
            };
            let mut rx = match ready {
                Ok((resp, seq)) => {
                    self.wait_durable(seq).await?;
                    return Ok(resp);
                }
                Err(rx) => rx,
            };
            tokio::select! {
                r = rx.changed() => { if r.is_err() { return Ok(Default::default()); } }
                _ = stop.wait_for(|v| *v) => return Err(Status::unavailable("dev server shutting down")),
                _ = tokio::time::sleep_until(deadline) => {
                    return Ok(ws::GetWorkflowExecutionHistoryResponse {
                        history: Some(History::default()),
                        next_page_token: if close_only { vec![] } else { from.to_be_bytes().to_vec() },
                        ..Default::default()
                    });
                }
            }
        }
    }

    /// GetWorkflowExecutionHistoryReverse.
    pub async fn history_reverse(
        &self,
        req: ws::GetWorkflowExecutionHistoryReverseRequest,
    ) -> RpcResult<ws::GetWorkflowExecutionHistoryReverseResponse> {
        self.with_workflow(&req.namespace, workflow_of(&req.execution), |g| {
            let key = g.resolve(&req.namespace, &req.execution)?;
            let ex = g
                .execs
                .get(&key)
                .ok_or_else(|| status::not_found("workflow execution not found"))?;
            let offset = page_offset(&req.next_page_token);
            let size = if req.maximum_page_size > 0 {
                req.maximum_page_size as usize
            } else {
                1000
            };
            let events: Vec<HistoryEvent> = ex
                .events
                .iter()
                .rev()
                .skip(offset)
                .take(size)
                .cloned()
                .collect();
            let next = if offset + events.len() < ex.events.len() {
                ((offset + events.len()) as u64).to_be_bytes().to_vec()
            } else {
                vec![]
            };
            Ok(ws::GetWorkflowExecutionHistoryReverseResponse {
                history: Some(History { events }),
                next_page_token: next,
            })
        })
        .await
    }
}

/// One page of the history `req` asks for, from event `from`; `Err` with a receiver to wait
/// on when a long poll has nothing to return yet.
fn read_page(
    g: &mut Inner,
    req: &ws::GetWorkflowExecutionHistoryRequest,
    from: i64,
    page: usize,
    close_only: bool,
) -> RpcResult<Result<ws::GetWorkflowExecutionHistoryResponse, watch::Receiver<u64>>> {
    let key = g.resolve(&req.namespace, &req.execution)?;
    let ex = g
        .execs
        .get(&key)
        .ok_or_else(|| status::not_found("workflow execution not found"))?;
    let open = ex.st.is_open();
    if close_only {
        if !open {
            let last = ex.events.last().cloned().into_iter().collect();
            return Ok(Ok(ws::GetWorkflowExecutionHistoryResponse {
                history: Some(History { events: last }),
                ..Default::default()
            }));
        }
        if !req.wait_new_event {
            return Ok(Ok(Default::default()));
        }
    } else {
        let avail = ex.events.len() as i64 - (from - 1);
        if avail > 0 || !req.wait_new_event || !open {
            let start = (from - 1).max(0) as usize;
            let events: Vec<HistoryEvent> =
                ex.events.iter().skip(start).take(page).cloned().collect();
            let next_id = from + events.len() as i64;
            let more = (next_id - 1) < ex.events.len() as i64;
            // While open, the token lets the caller long-poll for what comes next.
            let token = if more || (open && req.wait_new_event) {
                next_id.to_be_bytes().to_vec()
            } else {
                vec![]
            };
            return Ok(Ok(ws::GetWorkflowExecutionHistoryResponse {
                history: Some(History { events }),
                next_page_token: token,
                ..Default::default()
            }));
        }
    }
    Ok(Err(ex.watch.subscribe()))
}
