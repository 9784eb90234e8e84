//! Markers, search attributes and memo: RecordMarker, UpsertWorkflowSearchAttributes and ModifyWorkflowProperties.
use crate::prelude::*;

impl Inner<'_> {
    /// The RecordMarker command.
    pub(crate) fn record_marker_command(
        &mut self,
        key: &ExecKey,
        a: cmd::RecordMarkerCommandAttributes,
        cx: &mut CmdCtx<'_>,
    ) -> RpcResult<()> {
        let completed_id = cx.completed_id;
        let ex = self.exec_mut(key)?;
        ex.add(A::MarkerRecordedEventAttributes(
            h::MarkerRecordedEventAttributes {
                marker_name: a.marker_name,
                details: a.details,
                workflow_task_completed_event_id: completed_id,
                header: a.header,
                failure: a.failure,
            },
        ));
        Ok(())
    }

    /// The UpsertWorkflowSearchAttributes command.
    pub(crate) fn upsert_workflow_search_attributes_command(
        &mut self,
        key: &ExecKey,
        a: cmd::UpsertWorkflowSearchAttributesCommandAttributes,
        cx: &mut CmdCtx<'_>,
    ) -> RpcResult<()> {
        let completed_id = cx.completed_id;
        let ex = self.exec_mut(key)?;
        let sa = a.search_attributes.clone().unwrap_or_default();
        merge_search_attributes(&mut ex.st.search_attributes, &sa);
        ex.add(A::UpsertWorkflowSearchAttributesEventAttributes(
            h::UpsertWorkflowSearchAttributesEventAttributes {
                workflow_task_completed_event_id: completed_id,
                search_attributes: a.search_attributes,
            },
        ));
        Ok(())
    }

    /// The ModifyWorkflowProperties command.
    pub(crate) fn modify_workflow_properties_command(
        &mut self,
        key: &ExecKey,
        a: cmd::ModifyWorkflowPropertiesCommandAttributes,
        cx: &mut CmdCtx<'_>,
    ) -> RpcResult<()> {
        let completed_id = cx.completed_id;
        let ex = self.exec_mut(key)?;
        if let Some(m) = &a.upserted_memo {
            merge_memo(&mut ex.st.memo, m);
        }
        ex.add(A::WorkflowPropertiesModifiedEventAttributes(
            h::WorkflowPropertiesModifiedEventAttributes {
                workflow_task_completed_event_id: completed_id,
                upserted_memo: a.upserted_memo,
            },
        ));
        Ok(())
    }
}

/// Applies an upsert to a run's search attributes: an empty or `null` value removes the
/// attribute, any other value sets it.
pub(crate) fn merge_search_attributes(
    cur: &mut Option<SearchAttributes>,
    upsert: &SearchAttributes,
) {
    let cur = cur.get_or_insert_with(Default::default);
    for (k, v) in &upsert.indexed_fields {
        if v.data.is_empty() || v.data == b"null" {
            cur.indexed_fields.remove(k);
        } else {
            cur.indexed_fields.insert(k.clone(), v.clone());
        }
    }
}

/// Applies an upserted memo to a run's memo: an empty value removes the field.
pub(crate) fn merge_memo(cur: &mut Option<Memo>, upsert: &Memo) {
    let cur = cur.get_or_insert_with(Default::default);
    for (k, v) in &upsert.fields {
        if v.data.is_empty() {
            cur.fields.remove(k);
        } else {
            cur.fields.insert(k.clone(), v.clone());
        }
    }
}
