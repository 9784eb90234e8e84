//! `hourglass operator search-attribute ...`: custom search attributes through Temporal's
//! OperatorService, as the Temporal CLI's `temporal operator search-attribute` commands.

use crate::args::{ConnectionArgs, OutputArgs};
use crate::connection::OperatorClient;
use crate::error::CliError;
use crate::output::{enum_text, print_json, print_table, proto_json};
use clap::{Args, Subcommand};
use serde_json::json;
use std::collections::HashMap;
use std::io::Write;
use temporalio_protos::temporal::api::enums::v1::IndexedValueType;
use temporalio_protos::temporal::api::operatorservice::v1::{
    AddSearchAttributesRequest, ListSearchAttributesRequest, ListSearchAttributesResponse,
    RemoveSearchAttributesRequest,
};

/// `hourglass operator ...`.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Custom search attributes of a namespace.
    #[command(subcommand, name = "search-attribute")]
    SearchAttribute(SearchAttributeCommand),
}

impl OperatorCommand {
    /// The connection options of the command.
    pub fn connection(&self) -> &ConnectionArgs {
        match self {
            OperatorCommand::SearchAttribute(SearchAttributeCommand::Create(a)) => &a.connection,
            OperatorCommand::SearchAttribute(SearchAttributeCommand::List(a)) => &a.connection,
            OperatorCommand::SearchAttribute(SearchAttributeCommand::Remove(a)) => &a.connection,
        }
    }
}

/// `hourglass operator search-attribute ...`.
#[derive(Debug, Subcommand)]
pub enum SearchAttributeCommand {
    /// Add custom search attributes (`--name N --type T`, repeatable in pairs).
    Create(SearchAttributeCreateArgs),
    /// List the system and custom search attributes.
    List(SearchAttributeListArgs),
    /// Remove custom search attributes.
    Remove(SearchAttributeRemoveArgs),
}

/// Arguments of `search-attribute create`.
#[derive(Debug, Clone, Args)]
pub struct SearchAttributeCreateArgs {
    /// Connection options.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Search attribute name (repeatable; the n-th --name goes with the n-th --type).
    #[arg(long, required = true)]
    pub name: Vec<String>,
    /// Search attribute type: Text, Keyword, Int, Double, Bool, Datetime or KeywordList.
    #[arg(long = "type", value_name = "TYPE", required = true)]
    pub attribute_type: Vec<String>,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `search-attribute list`.
#[derive(Debug, Clone, Args)]
pub struct SearchAttributeListArgs {
    /// Connection options.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `search-attribute remove`.
#[derive(Debug, Clone, Args)]
pub struct SearchAttributeRemoveArgs {
    /// Connection options.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Search attribute name (repeatable).
    #[arg(long, required = true)]
    pub name: Vec<String>,
    /// Don't prompt to confirm (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

const TYPES: [(&str, IndexedValueType); 7] = [
    ("Text", IndexedValueType::Text),
    ("Keyword", IndexedValueType::Keyword),
    ("Int", IndexedValueType::Int),
    ("Double", IndexedValueType::Double),
    ("Bool", IndexedValueType::Bool),
    ("Datetime", IndexedValueType::Datetime),
    ("KeywordList", IndexedValueType::KeywordList),
];

/// Parses a search attribute type name, case-insensitively as the Temporal CLI does.
pub fn parse_type(text: &str) -> Result<IndexedValueType, CliError> {
    TYPES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|(_, t)| *t)
        .ok_or_else(|| CliError::InvalidValue {
            what: "--type".into(),
            message: format!(
                "unsupported search attribute type `{text}` (use one of Text, Keyword, Int, Double, Bool, Datetime, KeywordList)"
            ),
        })
}

fn type_text(t: i32) -> String {
    IndexedValueType::try_from(t)
        .map(|t| enum_text(t.as_str_name(), "INDEXED_VALUE_TYPE_"))
        .unwrap_or_else(|_| format!("Unknown({t})"))
}

/// Checks `--name`/`--type` pairs before anything is sent.
pub fn create_pairs(
    args: &SearchAttributeCreateArgs,
) -> Result<HashMap<String, IndexedValueType>, CliError> {
    if args.name.len() != args.attribute_type.len() {
        return Err(CliError::InvalidValue {
            what: "--name/--type".into(),
            message: format!(
                "give one --type per --name ({} names, {} types)",
                args.name.len(),
                args.attribute_type.len()
            ),
        });
    }
    args.name
        .iter()
        .zip(&args.attribute_type)
        .map(|(n, t)| {
            if n.trim().is_empty() {
                return Err(CliError::InvalidValue {
                    what: "--name".into(),
                    message: "must not be empty".into(),
                });
            }
            Ok((n.clone(), parse_type(t)?))
        })
        .collect()
}

async fn list(
    client: &mut OperatorClient,
    namespace: &str,
) -> Result<ListSearchAttributesResponse, CliError> {
    Ok(client
        .list_search_attributes(ListSearchAttributesRequest {
            namespace: namespace.to_string(),
        })
        .await
        .map_err(|s| CliError::rpc("list search attributes", s))?
        .into_inner())
}

/// `search-attribute create`.
pub async fn cmd_create(
    client: &mut OperatorClient,
    namespace: &str,
    args: &SearchAttributeCreateArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let pairs = create_pairs(args)?;
    let existing = list(client, namespace).await?;
    for (name, t) in &pairs {
        if let Some(have) = existing.custom_attributes.get(name)
            && *have != *t as i32
        {
            return Err(CliError::InvalidValue {
                what: "--type".into(),
                message: format!(
                    "search attribute {name} already exists and has different type {}",
                    type_text(*have)
                ),
            });
        }
    }
    client
        .add_search_attributes(AddSearchAttributesRequest {
            search_attributes: pairs.iter().map(|(n, t)| (n.clone(), *t as i32)).collect(),
            namespace: namespace.to_string(),
        })
        .await
        .map_err(|s| CliError::rpc("add search attributes", s))?;
    if args.output.output.is_json() {
        return print_json(out, &json!({"added": args.name}));
    }
    writeln!(out, "Search attributes have been added")?;
    Ok(())
}

/// `search-attribute list`: system attributes then custom ones, each sorted by name.
pub async fn cmd_list(
    client: &mut OperatorClient,
    namespace: &str,
    args: &SearchAttributeListArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let resp = list(client, namespace).await?;
    if args.output.output.is_json() {
        return print_json(out, &proto_json(&resp, true)?);
    }
    let sorted = |m: &HashMap<String, i32>| {
        let mut v: Vec<Vec<String>> = m
            .iter()
            .map(|(n, t)| vec![n.clone(), type_text(*t)])
            .collect();
        v.sort();
        v
    };
    let mut rows = sorted(&resp.system_attributes);
    rows.extend(sorted(&resp.custom_attributes));
    print_table(out, &["Name", "Type"], &rows, true)
}

/// `search-attribute remove`.
pub async fn cmd_remove(
    client: &mut OperatorClient,
    namespace: &str,
    args: &SearchAttributeRemoveArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    crate::workflow_commands::confirm(
        &format!(
            "You are about to remove search attribute {:?}? y/N",
            args.name
        ),
        &format!("remove search attributes {}", args.name.join(", ")),
        args.yes,
    )?;
    client
        .remove_search_attributes(RemoveSearchAttributesRequest {
            search_attributes: args.name.clone(),
            namespace: namespace.to_string(),
        })
        .await
        .map_err(|s| CliError::rpc("remove search attributes", s))?;
    if args.output.output.is_json() {
        return print_json(out, &json!({"removed": args.name}));
    }
    writeln!(out, "Search attributes have been removed")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse_case_insensitively_and_print_as_the_temporal_cli() {
        assert_eq!(
            parse_type("keywordlist").unwrap(),
            IndexedValueType::KeywordList
        );
        assert_eq!(
            type_text(IndexedValueType::KeywordList as i32),
            "KeywordList"
        );
        assert_eq!(type_text(IndexedValueType::Datetime as i32), "Datetime");
        let err = parse_type("Colour").unwrap_err().to_string();
        assert!(
            err.contains("Colour") && err.contains("KeywordList"),
            "{err}"
        );
    }
}
