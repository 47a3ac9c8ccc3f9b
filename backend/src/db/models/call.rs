use diesel::prelude::*;

use crate::db::schema::calls;
use crate::db::DbConnection;
use crate::domain::{
    CallId, CallMedia, CallOutcome, CallSide, CallState, ConversationId, OperatorId,
};

/// A voice or video call of a conversation, from ringing to its end.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = calls)]
pub struct Call {
    /// Primary key (UUIDv7).
    pub id: CallId,
    /// The conversation it belongs to.
    pub conversation_id: ConversationId,
    /// The operator party (the conversation's assigned operator when it started).
    pub operator_id: OperatorId,
    /// Voice or video.
    pub media: CallMedia,
    /// Who started it.
    pub caller: CallSide,
    /// Ringing, active or ended.
    pub state: CallState,
    /// How it ended, once it has.
    pub outcome: Option<CallOutcome>,
    /// Who ended it, once it has.
    pub ended_by: Option<CallSide>,
    /// The guest's tab that runs the call, once known.
    pub guest_tab: Option<String>,
    /// The operator's console tab that runs the call, once known.
    pub operator_tab: Option<String>,
    /// When it started ringing (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// When it was answered.
    pub answered_at: Option<chrono::NaiveDateTime>,
    /// When it ended.
    pub ended_at: Option<chrono::NaiveDateTime>,
}

impl Call {
    /// Inserts this call.
    pub fn insert(&self, conn: &mut DbConnection) -> QueryResult<()> {
        diesel::insert_into(calls::table)
            .values(self)
            .execute(conn)
            .map(|_| ())
    }

    /// The call with this id.
    pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Call>> {
        calls::table
            .find(id)
            .select(Call::as_select())
            .first(conn)
            .optional()
    }

    /// The conversation's ringing or active call, if any.
    pub fn live_in(conn: &mut DbConnection, conversation_id: &str) -> QueryResult<Option<Call>> {
        calls::table
            .filter(calls::conversation_id.eq(conversation_id))
            .filter(calls::state.ne(CallState::Ended))
            .order(calls::created_at.desc())
            .select(Call::as_select())
            .first(conn)
            .optional()
    }

    /// Answers a ringing call from `side`'s tab `tab`; true when this request changed it (another
    /// tab, or node, that answered first wins).
    pub fn answer(
        conn: &mut DbConnection,
        id: &str,
        side: CallSide,
        tab: &str,
        at: chrono::NaiveDateTime,
    ) -> QueryResult<bool> {
        let target = calls::table
            .filter(calls::id.eq(id))
            .filter(calls::state.eq(CallState::Ringing));
        let changes = (
            calls::state.eq(CallState::Active),
            calls::answered_at.eq(Some(at)),
        );
        let n = match side {
            CallSide::Guest => diesel::update(target)
                .set((changes, calls::guest_tab.eq(Some(tab))))
                .execute(conn)?,
            _ => diesel::update(target)
                .set((changes, calls::operator_tab.eq(Some(tab))))
                .execute(conn)?,
        };
        Ok(n == 1)
    }

    /// Ends the call if it is still in state `from`; true when this request ended it.
    pub fn end(
        conn: &mut DbConnection,
        id: &str,
        from: CallState,
        outcome: CallOutcome,
        by: CallSide,
        at: chrono::NaiveDateTime,
    ) -> QueryResult<bool> {
        let n = diesel::update(
            calls::table
                .filter(calls::id.eq(id))
                .filter(calls::state.eq(from)),
        )
        .set((
            calls::state.eq(CallState::Ended),
            calls::outcome.eq(Some(outcome)),
            calls::ended_by.eq(Some(by)),
            calls::ended_at.eq(Some(at)),
        ))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Calls still ringing that started before `before`.
    pub fn ringing_since_before(
        conn: &mut DbConnection,
        before: chrono::NaiveDateTime,
    ) -> QueryResult<Vec<Call>> {
        calls::table
            .filter(calls::state.eq(CallState::Ringing))
            .filter(calls::created_at.lt(before))
            .select(Call::as_select())
            .load(conn)
    }
}
