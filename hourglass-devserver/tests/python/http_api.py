"""Temporal's HTTP API on the dev server, driven with plain HTTP requests (urllib) while a
worker of the official Python SDK runs the workflows.

Usage: HOURGLASS_HTTP_API=<host:port> python http_api.py <scenario> <grpc host:port>
Each scenario checks the routes, proto-JSON (payload shorthand, pretty, no shorthand), the
status codes and Temporal's error JSON, and that a refused request changed nothing.
Exits non-zero (with a traceback) on failure.
"""

import asyncio
import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid

from temporalio import workflow
from temporalio.client import Client, WorkflowExecutionStatus

import harness

TQ = "http-api-" + uuid.uuid4().hex[:8]
BASE = "http://" + os.environ.get("HOURGLASS_HTTP_API", "")


@workflow.defn(name="http-basic-workflow")
class HttpBasic:
    def __init__(self) -> None:
        self.signalled = False
        self.updates: list[str] = []

    @workflow.run
    async def run(self, arg: dict) -> dict:
        await workflow.wait_condition(lambda: self.signalled)
        return {"arg": arg, "updates": self.updates}

    @workflow.query(name="some-query")
    def some_query(self, arg: dict) -> dict:
        return arg

    @workflow.signal(name="some-signal")
    def some_signal(self, arg: dict) -> None:
        assert arg == {"someField": "signal-arg"}, arg
        self.signalled = True

    @workflow.update(name="some-update")
    def some_update(self, text: str) -> str:
        self.updates.append(text)
        return text.upper()


def request(method: str, path: str, body=None, headers=None, raw: bytes | None = None):
    """(status, headers, text) of one HTTP request; never raises on an HTTP error status."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


async def call(method: str, path: str, body=None, **kw):
    """`request` off the event loop, which the worker needs to answer queries."""
    return await asyncio.to_thread(request, method, path, body, **kw)


async def ok(method: str, path: str, body=None, **kw) -> dict:
    status, _, text = await call(method, path, body, **kw)
    assert status == 200, (method, path, status, text)
    return json.loads(text)


async def fails(method: str, path: str, status: int, code: int, body=None, **kw) -> dict:
    got, _, text = await call(method, path, body, **kw)
    assert got == status, (method, path, got, text)
    err = json.loads(text)
    assert err["code"] == code, err
    return err


def q(query: str) -> str:
    return urllib.parse.quote(query)


async def wait_status(client: Client, wf_id: str, status) -> None:
    for _ in range(200):
        d = await client.get_workflow_handle(wf_id).describe()
        if d.status == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{wf_id} never reached {status}")


async def s_http_basics(client: Client) -> None:
    wf = "http-" + uuid.uuid4().hex[:8]
    start = {
        "workflowType": {"name": "http-basic-workflow"},
        "taskQueue": {"name": TQ},
        "input": [{"someField": "workflow-arg"}],
        "requestId": "req-" + wf,
    }
    run_id = (await ok("POST", f"/namespaces/default/workflows/{wf}", start))["runId"]
    # The same request id answers the same run; another one is AlreadyExists with details.
    assert (await ok("POST", f"/namespaces/default/workflows/{wf}", start))["runId"] == run_id
    err = await fails("POST", f"/namespaces/default/workflows/{wf}", 409, 6, {**start, "requestId": "other"})
    assert "already running" in err["message"], err
    assert err["details"][0]["runId"] == run_id, err
    assert err["details"][0]["@type"].endswith("WorkflowExecutionAlreadyStartedFailure"), err

    res = await ok("POST", f"/api/v1/namespaces/default/workflows/{wf}/query/some-query",
             {"query": {"queryArgs": [{"someField": "query-arg"}]}})
    assert res["queryResult"] == [{"someField": "query-arg"}], res

    upd = await ok("POST", f"/api/v1/namespaces/default/workflows/{wf}/update/some-update", {
        "request": {"meta": {"updateId": "u1"}, "input": {"args": ["hi"]}},
        "waitPolicy": {"lifecycleStage": "UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED"},
    })
    assert upd["outcome"]["success"] == ["HI"], upd

    await ok("POST", f"/namespaces/default/workflows/{wf}/signal/some-signal",
       {"input": [{"someField": "signal-arg"}]})
    await wait_status(client, wf, WorkflowExecutionStatus.COMPLETED)

    hist = await ok("GET", f"/namespaces/default/workflows/{wf}/history?historyEventFilterType=2")
    events = hist["history"]["events"]
    assert len(events) == 1 and events[0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED", hist
    result = events[0]["workflowExecutionCompletedEventAttributes"]["result"]
    assert result == [{"arg": {"someField": "workflow-arg"}, "updates": ["hi"]}], result
    # int64 as strings, enum names, timestamps in RFC 3339.
    assert isinstance(events[0]["eventId"], str), events[0]
    assert events[0]["eventTime"].endswith("Z"), events[0]

    # Without shorthand, payloads are standard objects; `?pretty` indents.
    status, _, text = await call("GET", f"/api/v1/namespaces/default/workflows/{wf}/history?noPayloadShorthand&pretty")
    assert status == 200 and "\n" in text, text
    first = json.loads(text)["history"]["events"][0]
    payload = first["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
    assert payload["metadata"]["encoding"] == "anNvbi9wbGFpbg==", payload
    status, _, text = await call("GET", f"/namespaces/default/workflows/{wf}/history",
                              headers={"Accept": "application/json+no-payload-shorthand"})
    assert status == 200 and "\n" not in text and '"payloads"' in text, text
    rev = await ok("GET", f"/api/v1/namespaces/default/workflows/{wf}/history-reverse")
    assert rev["history"]["events"][0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED", rev

    desc = await ok("GET", f"/api/v1/namespaces/default/workflows/{wf}?execution.runId={run_id}")
    info = desc["workflowExecutionInfo"]
    assert info["status"] == "WORKFLOW_EXECUTION_STATUS_COMPLETED", info
    assert info["type"]["name"] == "http-basic-workflow", info

    listed = await ok("GET", "/api/v1/namespaces/default/workflows?query=" + q(f'WorkflowId="{wf}"'))
    assert [e["execution"]["runId"] for e in listed["executions"]] == [run_id], listed
    count = await ok("GET", "/api/v1/namespaces/default/workflow-count?query="
               + q(f"TaskQueue='{TQ}' GROUP BY ExecutionStatus"))
    assert count["count"] == "1", count
    # A search-attribute payload carries its type in its metadata: no shorthand for it.
    value = count["groups"][0]["groupValues"][0]
    assert base64.b64decode(value["data"]) == b'"Completed"', count
    assert base64.b64decode(value["metadata"]["type"]) == b"Keyword", count


async def s_http_cancel_terminate(client: Client) -> None:
    ids = []
    for _ in range(2):
        wf = "http-ct-" + uuid.uuid4().hex[:8]
        await ok("POST", f"/namespaces/default/workflows/{wf}", {
            "workflowType": {"name": "http-basic-workflow"}, "taskQueue": {"name": TQ},
            "input": [{}], "requestId": "r-" + wf})
        ids.append(wf)
    await ok("POST", f"/api/v1/namespaces/default/workflows/{ids[0]}/terminate", {"reason": "by http"})
    await wait_status(client, ids[0], WorkflowExecutionStatus.TERMINATED)
    await ok("POST", f"/api/v1/namespaces/default/workflows/{ids[1]}/cancel", {"reason": "stop"})
    await wait_status(client, ids[1], WorkflowExecutionStatus.CANCELED)
    hist = await ok("GET", f"/api/v1/namespaces/default/workflows/{ids[0]}/history")
    last = hist["history"]["events"][-1]
    assert last["workflowExecutionTerminatedEventAttributes"]["reason"] == "by http", last


async def s_http_cluster_and_namespaces(client: Client) -> None:
    info = await ok("GET", "/system-info")
    assert info["capabilities"]["signalAndQueryHeader"] is True, info
    status, _, text = await call("GET", "/api/v1/system-info?pretty")
    assert status == 200 and "\n" in text, text
    assert "\n" not in (await call("GET", "/api/v1/system-info"))[2]
    ns = await ok("GET", "/api/v1/namespaces")
    assert "default" in [n["namespaceInfo"]["name"] for n in ns["namespaces"]], ns
    one = await ok("GET", "/cluster/namespaces/default")
    assert one["namespaceInfo"]["name"] == "default", one
    attrs = await ok("GET", "/cluster/namespaces/default/search-attributes")
    assert attrs["customAttributes"]["PreRegistered"] == "INDEXED_VALUE_TYPE_INT", attrs
    assert attrs["systemAttributes"]["WorkflowId"] == "INDEXED_VALUE_TYPE_KEYWORD", attrs
    sa = await ok("GET", "/api/v1/namespaces/default/search-attributes")
    assert sa["customAttributes"]["PreRegistered"] == "INDEXED_VALUE_TYPE_INT", sa
    tq = await ok("GET", f"/api/v1/namespaces/default/task-queues/{TQ}?taskQueueType=1")
    assert any(p.get("identity") for p in tq.get("pollers", [])), tq


async def s_http_errors(client: Client) -> None:
    wf = "http-err-" + uuid.uuid4().hex[:8]
    # Malformed JSON, an unknown field, a wrong type: InvalidArgument, nothing started.
    e = await fails("POST", f"/namespaces/default/workflows/{wf}", 400, 3, raw=b'{"workflowType": ')
    assert "JSON" in e["message"], e
    e = await fails("POST", f"/namespaces/default/workflows/{wf}", 400, 3, {"bogusField": 1})
    assert "bogusField" in e["message"], e
    await fails("POST", f"/namespaces/default/workflows/{wf}", 400, 3, {"workflowType": {"name": 5}})
    e = await fails("POST", f"/namespaces/default/workflows/{wf}", 400, 3,
              {"workflowType": {"name": "http-basic-workflow"}, "taskQueue": {"name": ""}})
    assert e["message"], e
    listed = await ok("GET", "/namespaces/default/workflows?query=" + q(f'WorkflowId="{wf}"'))
    assert not listed.get("executions"), listed

    # Unknown namespace, unknown workflow, a bad query.
    e = await fails("GET", "/api/v1/namespaces/nope-ns/workflows", 404, 5)
    assert "nope-ns" in e["message"], e
    await fails("GET", f"/api/v1/namespaces/default/workflows/{wf}", 404, 5)
    e = await fails("GET", "/api/v1/namespaces/default/workflows?query=" + q("WorkflowId = "), 400, 3)
    assert e["message"], e
    await fails("GET", "/api/v1/namespaces/default/workflows?pageSize=many", 400, 3)

    # Routes: an unknown path, a known path with another method.
    assert (await fails("GET", "/api/v1/nothing-here", 404, 5))["message"] == "Not Found"
    assert (await fails("DELETE", "/system-info", 501, 12))["message"] == "Method Not Allowed"

    # A signal with malformed JSON leaves the history as it was.
    await ok("POST", f"/namespaces/default/workflows/{wf}", {
        "workflowType": {"name": "http-basic-workflow"}, "taskQueue": {"name": TQ},
        "input": [{}], "requestId": "r-" + wf})
    before = (await ok("GET", f"/namespaces/default/workflows/{wf}/history"))["history"]["events"]
    await fails("POST", f"/namespaces/default/workflows/{wf}/signal/some-signal", 400, 3, raw=b"{input: [")
    after = (await ok("GET", f"/namespaces/default/workflows/{wf}/history"))["history"]["events"]
    assert [x["eventType"] for x in after if x["eventType"].endswith("SIGNALED")] == [], after
    assert len(after) >= len(before)

    # A body over 4 MiB is refused before any RPC runs.
    big = b'{"input": ["' + b"x" * (4 * 1024 * 1024) + b'"]}'
    await fails("POST", f"/namespaces/default/workflows/{wf}/signal/some-signal", 400, 3, raw=big)
    await ok("POST", f"/namespaces/default/workflows/{wf}/terminate", {"reason": "done"})


if __name__ == "__main__":
    harness.run(
        {
            "http_basics": s_http_basics,
            "http_cancel_terminate": s_http_cancel_terminate,
            "http_cluster_and_namespaces": s_http_cluster_and_namespaces,
            "http_errors": s_http_errors,
        },
        TQ,
        [HttpBasic],
    )
