//! Markers, search attributes and memo: RecordMarker, UpsertWorkflowSearchAttributes and ModifyWorkflowProperties.
use crate::prelude::*;

impl Inner {
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
        let cur = ex.st.search_attributes.get_or_insert_with(Default::default);
        for (k, v) in sa.indexed_fields.clone() {
            if v.data.is_empty() || v.data == b"null" {
                cur.indexed_fields.remove(&k);
            } else {
                cur.indexed_fields.insert(k, v);
            }
        }
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
            let cur = ex.st.memo.get_or_insert_with(Default::default);
            for (k, v) in m.fields.clone() {
                if v.data.is_empty() {
                    cur.fields.remove(&k);
                } else {
                    cur.fields.insert(k, v);
                }
            }
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
