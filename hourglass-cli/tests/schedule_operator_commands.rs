//! `hourglass schedule ...` and `hourglass operator search-attribute ...` (flag names and
//! output as the Temporal CLI's) run as the real binary against `hourglass server start-dev`
//! on a free loopback port; every process a test starts is killed when the test ends.

#[allow(dead_code)]
#[path = "support/cli_server.rs"]
mod cli_server;

use cli_server::{Server, card_has, wait_until};

#[test]
fn schedules_create_list_describe_trigger_pause_unpause_delete() {
    let s = Server::start_dev();
    let created = s.ok(&[
        "schedule",
        "create",
        "-s",
        "sch-1",
        "--interval",
        "1h/5m",
        "--type",
        "Nobody",
        "-t",
        "none",
        "-w",
        "sch-wf",
        "--notes",
        "first",
        "-i",
        "\"x\"",
    ]);
    assert_eq!(created, "Schedule created");
    let json = s.json(&[
        "schedule",
        "create",
        "-s",
        "sch-2",
        "--calendar",
        r#"{"dayOfWeek":"Fri","hour":"17","minute":"5"}"#,
        "--cron",
        "30 12 * * Fri",
        "--workflow-type",
        "Nobody",
        "--task-queue",
        "none",
        "--paused",
        "--overlap-policy",
        "BufferOne",
    ]);
    assert_eq!(json["scheduleId"], "sch-2");

    let listed = s.ok(&["schedule", "list"]);
    let header: Vec<&str> = listed.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "ScheduleId",
            "Action",
            "Paused",
            "NextRunTime",
            "LastRunTime"
        ]
    );
    assert!(
        listed.contains("sch-1") && listed.contains(r#"{"Workflow":"Nobody"}"#),
        "{listed}"
    );
    let long = s.ok(&["schedule", "list", "--long"]);
    assert!(
        long.contains(r#"{"every":"1h 0m 0s","offset":"5m 0s"}"#),
        "{long}"
    );
    let listed = s.json(&["schedule", "list"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");

    let described = s.ok(&["schedule", "describe", "-s", "sch-2"]);
    assert!(card_has(&described, "ScheduleId", "sch-2"), "{described}");
    assert!(
        card_has(&described, "OverlapPolicy", "BufferOne"),
        "{described}"
    );
    assert!(card_has(&described, "Paused", "true"), "{described}");
    assert!(described.contains(r#""dayOfWeek":"5""#), "{described}");
    assert!(described.contains(r#""hour":"17""#), "{described}");
    let json = s.json(&["schedule", "describe", "-s", "sch-1"]);
    assert_eq!(json["schedule"]["state"]["notes"], "first", "{json}");
    let action = &json["schedule"]["action"]["startWorkflow"];
    assert_eq!(action["workflowId"], "sch-wf");
    assert_eq!(action["workflowType"]["name"], "Nobody");

    assert_eq!(
        s.ok(&["schedule", "trigger", "-s", "sch-1"]),
        "Trigger request sent"
    );
    wait_until("the triggered run", || {
        let d = s.ok(&["schedule", "describe", "-s", "sch-1"]);
        d.contains("RunningWorkflows  [sch-wf-")
    });
    assert_eq!(
        s.ok(&["workflow", "count", "-q", "TemporalScheduledById = 'sch-1'"]),
        "Total: 1"
    );
    assert_eq!(
        s.ok(&["schedule", "pause", "-s", "sch-1", "--reason", "hold"]),
        "Schedule paused"
    );
    let d = s.ok(&["schedule", "describe", "-s", "sch-1"]);
    assert!(
        card_has(&d, "Paused", "true") && card_has(&d, "Notes", "hold"),
        "{d}"
    );
    s.ok(&[
        "schedule",
        "toggle",
        "-s",
        "sch-1",
        "--unpause",
        "--reason",
        "go",
    ]);
    let d = s.ok(&["schedule", "describe", "-s", "sch-1"]);
    assert!(
        card_has(&d, "Paused", "false") && card_has(&d, "Notes", "go"),
        "{d}"
    );
    s.ok(&["schedule", "unpause", "-s", "sch-2"]);
    let updated = s.ok(&[
        "schedule",
        "update",
        "-s",
        "sch-2",
        "--interval",
        "30m",
        "--type",
        "Other",
        "-t",
        "none",
    ]);
    assert_eq!(updated, "Schedule updated");
    let d = s.ok(&["schedule", "describe", "-s", "sch-2"]);
    assert!(
        d.contains(r#"[{"every":"30m 0s"}]"#) && d.contains("Other"),
        "{d}"
    );
    assert!(card_has(&d, "OverlapPolicy", "Skip"), "{d}");
    assert_eq!(
        s.ok(&["schedule", "delete", "-s", "sch-2"]),
        "Schedule deleted"
    );
}

#[test]
fn schedule_errors_are_one_line_each() {
    let s = Server::start_dev();
    s.ok(&[
        "schedule",
        "create",
        "-s",
        "sch-1",
        "--interval",
        "1h",
        "--type",
        "Nobody",
        "-t",
        "q",
    ]);
    for cmd in [
        vec!["schedule", "describe", "-s", "ghost"],
        vec!["schedule", "delete", "-s", "ghost"],
        vec!["schedule", "trigger", "-s", "ghost"],
        vec!["schedule", "pause", "-s", "ghost"],
        vec![
            "schedule",
            "update",
            "-s",
            "ghost",
            "--interval",
            "1h",
            "--type",
            "N",
            "-t",
            "q",
        ],
    ] {
        let err = s.fails(&cmd);
        assert!(err.contains("schedule `ghost` not found"), "{cmd:?}: {err}");
    }
    let create = |extra: &[&str]| {
        let mut a = vec![
            "schedule", "create", "-s", "bad", "--type", "Nobody", "-t", "q",
        ];
        a.extend_from_slice(extra);
        s.fails(&a)
    };
    let err = create(&["--calendar", r#"{"dayOfWeek":"Fri","#]);
    assert!(
        err.contains("--calendar") && err.contains("not a calendar spec in JSON"),
        "{err}"
    );
    let err = create(&["--calendar", r#"{"weekday":"Fri"}"#]);
    assert!(err.contains("weekday"), "{err}");
    let err = create(&["--interval", "often"]);
    assert!(err.contains("--interval") && err.contains("often"), "{err}");
    let err = create(&["--interval", "1h", "--overlap-policy", "Sometimes"]);
    assert!(
        err.contains("--overlap-policy") && err.contains("Sometimes"),
        "{err}"
    );
    let err = create(&[]);
    assert!(err.contains("--calendar, --cron or --interval"), "{err}");
    let err = create(&["--interval", "1h", "--start-time", "tomorrow"]);
    assert!(
        err.contains("--start-time") && err.contains("RFC 3339"),
        "{err}"
    );
    let err = s.fails(&["schedule", "toggle", "-s", "sch-1"]);
    assert!(err.contains("exactly one of --pause or --unpause"), "{err}");
    let err = create(&["--interval", "1h", "--remaining-actions=-1"]);
    assert!(err.contains("--remaining-actions"), "{err}");
    let err = create(&["--interval", "1h", "--jitter", "soon"]);
    assert!(err.contains("--jitter") && err.contains("soon"), "{err}");
    let err = create(&["--interval", "1h", "--calendar", "[]"]);
    assert!(err.contains("--calendar"), "{err}");
    let err = s.fails(&[
        "schedule",
        "create",
        "-s",
        "sch-1",
        "--interval",
        "1h",
        "--type",
        "N",
        "-t",
        "q",
    ]);
    assert!(err.contains("create schedule failed"), "{err}");
}

#[test]
fn search_attributes_create_list_remove() {
    let s = Server::start_dev();
    let added = s.ok(&[
        "operator",
        "search-attribute",
        "create",
        "--name",
        "Color",
        "--type",
        "Keyword",
        "--name",
        "Size",
        "--type",
        "int",
    ]);
    assert_eq!(added, "Search attributes have been added");
    // Creating an existing attribute with the same type is fine, as in the Temporal CLI.
    s.ok(&[
        "operator",
        "search-attribute",
        "create",
        "--name",
        "Color",
        "--type",
        "Keyword",
    ]);
    let listed = s.ok(&["operator", "search-attribute", "list"]);
    let header: Vec<&str> = listed.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["Name", "Type"]);
    let row = |name: &str| {
        listed
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
    };
    assert_eq!(row("Color"), Some(vec!["Color", "Keyword"]), "{listed}");
    assert_eq!(row("Size"), Some(vec!["Size", "Int"]), "{listed}");
    assert_eq!(
        row("WorkflowId"),
        Some(vec!["WorkflowId", "Keyword"]),
        "{listed}"
    );
    let json = s.json(&["operator", "search-attribute", "list"]);
    assert_eq!(
        json["customAttributes"]["Size"], "INDEXED_VALUE_TYPE_INT",
        "{json}"
    );
    assert_eq!(
        json["systemAttributes"]["StartTime"],
        "INDEXED_VALUE_TYPE_DATETIME"
    );
    // The new attribute is usable in visibility queries.
    s.ok(&["workflow", "count", "-q", "Color = 'red'"]);

    let err = s.fails(&["operator", "search-attribute", "remove", "--name", "Size"]);
    assert!(err.contains("--yes"), "{err}");
    let removed = s.ok(&[
        "operator",
        "search-attribute",
        "remove",
        "--name",
        "Size",
        "--yes",
    ]);
    assert_eq!(removed, "Search attributes have been removed");
    let json = s.json(&["operator", "search-attribute", "list"]);
    assert!(json["customAttributes"].get("Size").is_none(), "{json}");

    let err = s.fails(&[
        "operator",
        "search-attribute",
        "create",
        "--name",
        "X",
        "--type",
        "Colour",
    ]);
    assert!(
        err.contains("unsupported search attribute type `Colour`"),
        "{err}"
    );
    let err = s.fails(&[
        "operator",
        "search-attribute",
        "create",
        "--name",
        "X",
        "--name",
        "Y",
        "--type",
        "Int",
    ]);
    assert!(err.contains("one --type per --name"), "{err}");
    let err = s.fails(&[
        "operator",
        "search-attribute",
        "create",
        "--name",
        "",
        "--type",
        "Int",
    ]);
    assert!(err.contains("--name") && err.contains("empty"), "{err}");
    let err = s.fails(&[
        "operator",
        "search-attribute",
        "create",
        "--name",
        "Color",
        "--type",
        "Int",
    ]);
    assert!(
        err.contains("already exists and has different type Keyword"),
        "{err}"
    );
}

#[test]
fn schedule_backfill_and_list_matching_times_cover_a_time_range() {
    let s = Server::start_dev();
    s.ok(&[
        "schedule",
        "create",
        "-s",
        "sch-bf",
        "--interval",
        "1h",
        "--type",
        "Nobody",
        "-t",
        "none",
        "-w",
        "bf-wf",
        "--paused",
    ]);
    let range = [
        "--start-time",
        "2026-01-01T00:30:00Z",
        "--end-time",
        "2026-01-01T03:30:00Z",
    ];
    let mut args = vec!["schedule", "list-matching-times", "-s", "sch-bf"];
    args.extend_from_slice(&range);
    let table = s.ok(&args);
    let lines: Vec<&str> = table.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        [
            "Time",
            "2026-01-01T01:00:00Z",
            "2026-01-01T02:00:00Z",
            "2026-01-01T03:00:00Z"
        ],
        "{table}"
    );
    let json = s.json(&args);
    assert_eq!(
        json["startTime"].as_array().map(Vec::len),
        Some(3),
        "{json}"
    );

    let mut args = vec![
        "schedule",
        "backfill",
        "-s",
        "sch-bf",
        "--overlap-policy",
        "AllowAll",
    ];
    args.extend_from_slice(&range);
    assert_eq!(s.ok(&args), "Backfill request sent");
    // A paused schedule still runs its backfill (Temporal: backfills ignore the pause).
    wait_until("three backfilled runs", || {
        s.ok(&[
            "workflow",
            "count",
            "-q",
            "TemporalScheduledById = 'sch-bf'",
        ]) == "Total: 3"
    });

    for (cmd, flag, text) in [
        ("backfill", "--start-time", "yesterday"),
        ("list-matching-times", "--end-time", "2026-13-01T00:00:00Z"),
    ] {
        let mut args = vec!["schedule", cmd, "-s", "sch-bf"];
        args.extend_from_slice(&range);
        let at = args.iter().position(|a| *a == flag).unwrap() + 1;
        args[at] = text;
        let err = s.fails(&args);
        assert!(err.contains(flag) && err.contains("RFC 3339"), "{err}");
    }
    let mut args = vec![
        "schedule",
        "backfill",
        "-s",
        "sch-bf",
        "--overlap-policy",
        "Sometimes",
    ];
    args.extend_from_slice(&range);
    let err = s.fails(&args);
    assert!(err.contains("Sometimes"), "{err}");
    let mut args = vec!["schedule", "list-matching-times", "-s", "ghost"];
    args.extend_from_slice(&range);
    let err = s.fails(&args);
    assert!(err.contains("schedule `ghost` not found"), "{err}");
}
