"""Visibility scenarios run with the official Temporal Python SDK against the dev server.

Usage: python visibility.py <scenario> <host:port>
Runs with typed search attributes of all seven types are listed and counted with Temporal's
list-filter language, and every answer is checked against the same runs filtered in Python.
Exits non-zero (with a traceback) on failure.
"""

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

from temporalio import workflow
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

import harness

TQ = "vis-" + uuid.uuid4().hex[:8]
REGION = SearchAttributeKey.for_keyword("VisRegion")
SIZE = SearchAttributeKey.for_int("VisSize")
SCORE = SearchAttributeKey.for_float("VisScore")
VIP = SearchAttributeKey.for_bool("VisVip")
DUE = SearchAttributeKey.for_datetime("VisDue")
TAGS = SearchAttributeKey.for_keyword_list("VisTags")
NOTE = SearchAttributeKey.for_text("VisNote")
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@workflow.defn
class Vis:
    @workflow.run
    async def run(self, how: str) -> str:
        if how == "fail":
            raise ApplicationError("failed on purpose", non_retryable=True)
        if how == "wait":
            await workflow.wait_condition(lambda: False)
        return how


@workflow.defn
class VisUpsert:
    @workflow.run
    async def run(self, key: str) -> str:
        workflow.upsert_search_attributes([SearchAttributeKey.for_keyword(key).value_set("set")])
        return "upserted"


async def register(client: Client) -> None:
    t = IndexedValueType
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="default",
            search_attributes={
                "VisRegion": t.INDEXED_VALUE_TYPE_KEYWORD,
                "VisSize": t.INDEXED_VALUE_TYPE_INT,
                "VisScore": t.INDEXED_VALUE_TYPE_DOUBLE,
                "VisVip": t.INDEXED_VALUE_TYPE_BOOL,
                "VisDue": t.INDEXED_VALUE_TYPE_DATETIME,
                "VisTags": t.INDEXED_VALUE_TYPE_KEYWORD_LIST,
                "VisNote": t.INDEXED_VALUE_TYPE_TEXT,
            },
        )
    )


def row(i: int) -> dict:
    """The attributes of run i; every third run leaves some out."""
    r = {
        "id": f"{TQ}-{i:02d}",
        "how": ["done", "fail", "wait"][i % 3],
        "region": ["eu-west", "eu-north", "us-east", "ap-south"][i % 4],
        "size": i * 10,
        "score": i / 4,
        "vip": i % 2 == 0,
        "due": T0 + timedelta(days=i),
        "tags": [f"t{i % 3}", "all"] if i % 5 else [],
        "note": ["the quick brown fox", "lazy dog sleeps", "Quick thinking"][i % 3],
    }
    if i % 3 == 2:
        r["size"] = r["score"] = r["due"] = None
    return r


def attributes(r: dict) -> TypedSearchAttributes:
    pairs = [SearchAttributePair(REGION, r["region"]), SearchAttributePair(VIP, r["vip"])]
    pairs.append(SearchAttributePair(NOTE, r["note"]))
    if r["tags"]:
        pairs.append(SearchAttributePair(TAGS, r["tags"]))
    for key, name in ((SIZE, "size"), (SCORE, "score"), (DUE, "due")):
        if r[name] is not None:
            pairs.append(SearchAttributePair(key, r[name]))
    return TypedSearchAttributes(pairs)


async def start_all(client: Client, n: int) -> list:
    rows = [row(i) for i in range(n)]
    for r in rows:
        await client.start_workflow(
            Vis.run, r["how"], id=r["id"], task_queue=TQ, search_attributes=attributes(r)
        )
    for r in rows:
        if r["how"] != "wait":
            try:
                await client.get_workflow_handle(r["id"]).result()
            except Exception:
                pass
    return rows


STATUS = {"done": "Completed", "fail": "Failed", "wait": "Running"}


def cases() -> list:
    """(query, Python predicate) pairs; a predicate sees the row dict."""
    def has(k):
        return lambda r: r[k] is not None

    return [
        ("VisRegion = 'eu-west'", lambda r: r["region"] == "eu-west"),
        ("VisRegion != 'eu-west'", lambda r: r["region"] != "eu-west"),
        ("VisRegion STARTS_WITH 'eu-'", lambda r: r["region"].startswith("eu-")),
        ("VisRegion NOT STARTS_WITH 'eu-'", lambda r: not r["region"].startswith("eu-")),
        ("VisRegion IN ('us-east', 'ap-south')", lambda r: r["region"] in ("us-east", "ap-south")),
        ("VisRegion NOT IN ('us-east')", lambda r: r["region"] != "us-east"),
        ("VisRegion BETWEEN 'eu-a' AND 'eu-z'", lambda r: "eu-a" <= r["region"] <= "eu-z"),
        ("VisSize > 30", lambda r: has("size")(r) and r["size"] > 30),
        ("VisSize <= 30 OR VisVip = true", lambda r: (has("size")(r) and r["size"] <= 30) or r["vip"]),
        ("NOT VisSize > 30", lambda r: has("size")(r) and not r["size"] > 30),
        ("VisSize BETWEEN 20 AND 60", lambda r: has("size")(r) and 20 <= r["size"] <= 60),
        ("VisSize IS NULL", lambda r: r["size"] is None),
        ("VisSize IS NOT NULL AND VisVip = false", lambda r: has("size")(r) and not r["vip"]),
        ("VisScore >= 1.5", lambda r: has("score")(r) and r["score"] >= 1.5),
        ("VisScore < 2", lambda r: has("score")(r) and r["score"] < 2),
        ("VisDue > '2026-01-05T00:00:00Z'", lambda r: has("due")(r) and r["due"] > T0 + timedelta(days=4)),
        ("VisDue BETWEEN '2026-01-02T00:00:00Z' AND '2026-01-07T00:00:00Z'",
         lambda r: has("due")(r) and T0 + timedelta(days=1) <= r["due"] <= T0 + timedelta(days=6)),
        ("VisTags = 't1'", lambda r: "t1" in r["tags"]),
        ("VisTags IN ('t0', 't2')", lambda r: bool({"t0", "t2"} & set(r["tags"]))),
        ("VisTags != 'all'", lambda r: "all" not in r["tags"]),
        ("VisNote = 'quick'", lambda r: "quick" in r["note"].lower().split()),
        ("VisNote = 'dog fox'", lambda r: bool({"dog", "fox"} & set(r["note"].lower().split()))),
        ("ExecutionStatus = 'Running'", lambda r: STATUS[r["how"]] == "Running"),
        ("ExecutionStatus != 'Running' AND (VisRegion = 'eu-west' OR VisRegion = 'us-east')",
         lambda r: STATUS[r["how"]] != "Running" and r["region"] in ("eu-west", "us-east")),
        ("CloseTime IS NULL", lambda r: STATUS[r["how"]] == "Running"),
        ("ExecutionDuration >= 0", lambda r: STATUS[r["how"]] != "Running"),
        (f"WorkflowId = '{TQ}-03' OR WorkflowId = \"{TQ}-04\"", lambda r: r["id"] in (f"{TQ}-03", f"{TQ}-04")),
        ("WorkflowType = 'Vis'", lambda r: True),
        ("WorkflowType STARTS_WITH 'V' AND HistoryLength > 0", lambda r: True),
    ]


async def ids(client: Client, query: str, page_size: int = 1000) -> list:
    return [w.id async for w in client.list_workflows(f"TaskQueue = '{TQ}' AND ({query})", page_size=page_size)]


async def s_visibility_filters(client: Client) -> None:
    await register(client)
    rows = await start_all(client, 12)
    for query, pred in cases():
        want = sorted(r["id"] for r in rows if pred(r))
        got = sorted(await ids(client, query))
        assert got == want, f"{query}: got {got}, want {want}"
        count = (await client.count_workflows(f"TaskQueue = '{TQ}' AND ({query})")).count
        assert count == len(want), f"count {query}: {count} != {len(want)}"
    groups = await client.count_workflows(f"TaskQueue = '{TQ}' GROUP BY ExecutionStatus")
    by_status = {g.group_values[0]: g.count for g in groups.groups}
    want = {}
    for r in rows:
        want[STATUS[r["how"]]] = want.get(STATUS[r["how"]], 0) + 1
    assert by_status == want, f"{by_status} != {want}"
    # A search attribute value read back keeps its type.
    w = [w async for w in client.list_workflows(f"WorkflowId = '{TQ}-04'")][0]
    assert w.typed_search_attributes.get(SIZE) == 40
    assert w.typed_search_attributes.get(DUE) == T0 + timedelta(days=4)
    assert w.typed_search_attributes.get(TAGS) == ["t1", "all"]


async def s_visibility_paging(client: Client) -> None:
    await register(client)
    rows = await start_all(client, 10)
    whole = await ids(client, "WorkflowType = 'Vis'")
    paged = await ids(client, "WorkflowType = 'Vis'", page_size=3)
    assert paged == whole, f"pages {paged} != one page {whole}"
    assert len(set(paged)) == len(rows)
    # Temporal's order: open runs first, then by close time, newest first.
    statuses = [w.status async for w in client.list_workflows(f"TaskQueue = '{TQ}'")]
    running = [s == WorkflowExecutionStatus.RUNNING for s in statuses]
    assert running == sorted(running, reverse=True), statuses
    closes = [w.close_time async for w in client.list_workflows(f"TaskQueue = '{TQ}' AND CloseTime IS NOT NULL")]
    assert closes == sorted(closes, reverse=True), closes
    bad = await expect_invalid(client, "WorkflowType = 'Vis'", token=b"not a token")
    assert "page token" in bad, bad


async def expect_invalid(client: Client, query: str, token: bytes = b"") -> str:
    from temporalio.api.workflowservice.v1 import ListWorkflowExecutionsRequest

    try:
        await client.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(namespace="default", query=query, next_page_token=token)
        )
    except RPCError as e:
        assert e.status == RPCStatusCode.INVALID_ARGUMENT, f"{query}: {e.status} {e}"
        return e.message
    raise AssertionError(f"{query!r} was accepted")


async def s_visibility_errors(client: Client) -> None:
    await register(client)
    expected = {
        "VisRegion = 'a' AND AND": "syntax error at position 21 near 'AND'",
        "NoSuchAttr = 'x'": "column name 'NoSuchAttr' is not a valid search attribute",
        "VisSize = 'ten'": "invalid value type for search attribute VisSize of type Int",
        "VisNote STARTS_WITH 'a'": "operator 'STARTS_WITH' not supported for Text type",
        "VisTags > 'a'": "operator '>' not supported for KeywordList type",
        "VisVip BETWEEN 1 AND 2": "cannot do range condition on search attribute 'VisVip' of type Bool",
        "WorkflowId = abc": "did you forget to quote",
        "ExecutionStatus = 'Sleeping'": "invalid ExecutionStatus value 'Sleeping'",
        "VisDue > 'soon'": "unable to parse datetime 'soon'",
        "VisRegion = 'a' ORDER BY StartTime": "'ORDER BY' clause",
        "VisRegion = 'a' LIMIT 2": "'LIMIT' clause",
        "GROUP BY ExecutionStatus": "'GROUP BY' clause",
    }
    for query, part in expected.items():
        message = await expect_invalid(client, query)
        assert message.startswith("invalid query: "), message
        assert part in message, f"{query}: {message!r} lacks {part!r}"
    # Start refuses attributes the namespace does not define, or of the wrong type.
    refused = {
        "Namespace default has no mapping defined for search attribute VisUnknown": [
            SearchAttributePair(SearchAttributeKey.for_keyword("VisUnknown"), "x")
        ],
        "invalid value for search attribute VisSize of type Int": [
            SearchAttributePair(SearchAttributeKey.for_keyword("VisSize"), "ten")
        ],
        "invalid value for search attribute VisDue of type Datetime": [
            SearchAttributePair(SearchAttributeKey.for_keyword("VisDue"), "soon")
        ],
        "TemporalWorkerDeployment attribute can't be set in SearchAttributes": [
            SearchAttributePair(SearchAttributeKey.for_keyword("TemporalWorkerDeployment"), "d")
        ],
        "search attribute VisNote value size 3002 exceeds size limit 2048": [
            SearchAttributePair(SearchAttributeKey.for_text("VisNote"), "x" * 3000)
        ],
        "ExecutionStatus attribute can't be set in SearchAttributes": [
            SearchAttributePair(SearchAttributeKey.for_keyword("ExecutionStatus"), "Running")
        ],
    }
    for part, pairs in refused.items():
        wf_id = f"{TQ}-refused"
        try:
            await client.start_workflow(
                Vis.run, "done", id=wf_id, task_queue=TQ, search_attributes=TypedSearchAttributes(pairs)
            )
            raise AssertionError(f"start with {pairs} accepted")
        except RPCError as e:
            assert e.status == RPCStatusCode.INVALID_ARGUMENT, e
            assert part in e.message, f"{e.message!r} lacks {part!r}"
    assert [w async for w in client.list_workflows(f"WorkflowId = '{TQ}-refused'")] == []
    try:
        await client.count_workflows("GROUP BY WorkflowType")
        raise AssertionError("GROUP BY WorkflowType accepted")
    except RPCError as e:
        assert e.status == RPCStatusCode.INVALID_ARGUMENT
        assert "not supported for search attribute WorkflowType" in e.message, e.message


async def s_visibility_upsert(client: Client) -> None:
    from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause

    await register(client)
    h = await client.start_workflow(VisUpsert.run, "VisRegion", id=f"{TQ}-upsert", task_queue=TQ)
    assert await h.result() == "upserted"
    assert [w.id async for w in client.list_workflows("VisRegion = 'set'")] == [h.id]
    # An attribute the namespace does not define fails the workflow task, as Temporal does.
    bad = await client.start_workflow(VisUpsert.run, "VisNotThere", id=f"{TQ}-bad-upsert", task_queue=TQ)
    failed = None
    for _ in range(100):
        async for e in bad.fetch_history_events():
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                failed = e.workflow_task_failed_event_attributes
        if failed:
            break
        await asyncio.sleep(0.1)
    assert failed is not None, "no WorkflowTaskFailed event"
    assert failed.cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES, failed
    assert "Namespace default has no mapping defined for search attribute VisNotThere" in failed.failure.message, failed.failure
    events = [e.event_type async for e in bad.fetch_history_events()]
    assert EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES not in events, events
    await bad.terminate("scenario over")


async def s_visibility_registry(client: Client) -> None:
    """The search-attribute registry: OperatorService, GetSearchAttributes, queries on it."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
        RemoveSearchAttributesRequest,
    )
    from temporalio.api.workflowservice.v1 import GetSearchAttributesRequest
    from temporalio.service import RPCError, RPCStatusCode

    op = client.operator_service

    async def listed() -> object:
        return await op.list_search_attributes(ListSearchAttributesRequest(namespace="default"))

    first = await listed()
    assert dict(first.custom_attributes) == {
        "PreRegistered": IndexedValueType.INDEXED_VALUE_TYPE_INT
    }, first
    assert first.system_attributes["WorkflowId"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    assert first.system_attributes["StartTime"] == IndexedValueType.INDEXED_VALUE_TYPE_DATETIME
    await op.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="default",
            search_attributes={"Customer": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD},
        )
    )
    assert (await listed()).custom_attributes["Customer"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    keys = (await client.workflow_service.get_search_attributes(GetSearchAttributesRequest())).keys
    assert "Customer" in keys and "WorkflowType" in keys, keys
    # A registered attribute can be queried before any run carries it.
    customer = SearchAttributeKey.for_keyword("Customer")
    assert [w async for w in client.list_workflows("Customer = 'acme'")] == []
    h = await client.start_workflow(
        Vis.run,
        "done",
        id=f"{TQ}-sa",
        task_queue=TQ,
        search_attributes=TypedSearchAttributes([SearchAttributePair(customer, "acme")]),
    )
    await h.result()
    assert [w.id async for w in client.list_workflows("Customer = 'acme'")] == [h.id]
    for name in ("TemporalFoo", "WorkflowId"):
        try:
            await op.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace="default",
                    search_attributes={name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD},
                )
            )
            raise AssertionError(f"{name} should be refused")
        except RPCError as e:
            assert e.status == RPCStatusCode.INVALID_ARGUMENT, e
            assert "reserved by system" in e.message, e.message
    await op.remove_search_attributes(
        RemoveSearchAttributesRequest(namespace="default", search_attributes=["PreRegistered"])
    )
    assert "PreRegistered" not in (await listed()).custom_attributes


SCENARIOS = {
    name[2:]: fn for name, fn in list(globals().items()) if name.startswith("s_visibility_")
}


async def cleanup(client: Client) -> None:
    """Leaves no run open behind the worker's shutdown."""
    async for w in client.list_workflows(f"TaskQueue = '{TQ}' AND ExecutionStatus = 'Running'"):
        await client.get_workflow_handle(w.id).terminate("scenario over")


if __name__ == "__main__":
    harness.run(SCENARIOS, TQ, [Vis, VisUpsert], cleanup=cleanup)
