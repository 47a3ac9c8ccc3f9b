/// A new application-generated primary key: a UUIDv7 as text, so ids sort by creation time and inserts
/// need no backend-specific `RETURNING`.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
