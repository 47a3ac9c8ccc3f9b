//! The one schema both backends satisfy (see `migrations/sqlite` and `migrations/postgres`).
//! Portable types only: text ids, integers, booleans, UTC timestamps, JSON as text.

diesel::table! {
    sites (id) {
        id -> Text,
        public_key -> Text,
        slug -> Text,
        name -> Text,
        allowed_origins -> Text,
        custom_domain -> Nullable<Text>,
        identity_secret -> Text,
        settings -> Text,
        forced_status -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    operators (id) {
        id -> Text,
        email -> Text,
        handle -> Text,
        display_name -> Text,
        password_hash -> Text,
        phone -> Nullable<Text>,
        availability -> Text,
        notify_sms -> Bool,
        created_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    memberships (site_id, operator_id) {
        site_id -> Text,
        operator_id -> Text,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    console_sessions (id) {
        id -> Text,
        operator_id -> Text,
        csrf_token -> Text,
        ip -> Text,
        user_agent -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    setup_tokens (token_hash) {
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    visitors (id) {
        id -> Text,
        site_id -> Text,
        guest_id -> Text,
        token_hash -> Text,
        ip -> Text,
        ip_key -> Text,
        user_agent -> Text,
        display_name -> Nullable<Text>,
        email -> Nullable<Text>,
        verified_user_id -> Nullable<Text>,
        visit_count -> Integer,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        deactivated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    page_views (id) {
        id -> Text,
        site_id -> Text,
        visitor_id -> Text,
        url -> Text,
        title -> Text,
        referrer -> Text,
        duration_ms -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    conversations (id) {
        id -> Text,
        site_id -> Text,
        visitor_id -> Nullable<Text>,
        assigned_operator_id -> Nullable<Text>,
        target_operator_id -> Nullable<Text>,
        status -> Text,
        channel -> Text,
        subject -> Text,
        guest_name -> Nullable<Text>,
        guest_email -> Nullable<Text>,
        guest_phone -> Nullable<Text>,
        reply_token -> Nullable<Text>,
        last_seq -> BigInt,
        guest_read_seq -> BigInt,
        operator_read_seq -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        guest_capabilities -> Nullable<Text>,
    }
}

diesel::table! {
    messages (id) {
        id -> Text,
        conversation_id -> Text,
        seq -> BigInt,
        sender_kind -> Text,
        sender_id -> Nullable<Text>,
        client_msg_id -> Text,
        kind -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    attachments (id) {
        id -> Text,
        conversation_id -> Text,
        message_id -> Nullable<Text>,
        file_name -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        storage_name -> Text,
        sha256 -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    canned_responses (id) {
        id -> Text,
        site_id -> Text,
        shortcut -> Text,
        body -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        site_id -> Text,
        visitor_id -> Text,
        operator_id -> Nullable<Text>,
        message -> Text,
        status -> Text,
        conversation_id -> Nullable<Text>,
        created_at -> Timestamp,
        responded_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Text,
        site_id -> Text,
        url -> Text,
        events -> Text,
        secret -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notification_outbox (id) {
        id -> Text,
        site_id -> Nullable<Text>,
        channel -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        summary -> Text,
        conversation_id -> Nullable<Text>,
    }
}

diesel::table! {
    used_signatures (signature) {
        signature -> Text,
        visitor_id -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    domain_claims (site_id) {
        site_id -> Text,
        domain -> Text,
        token -> Text,
        created_at -> Timestamp,
        checked_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    refused_origins (site_id, origin) {
        site_id -> Text,
        origin -> Text,
        first_seen -> Timestamp,
        last_seen -> Timestamp,
        refusals -> BigInt,
        example_page -> Text,
    }
}

diesel::table! {
    calls (id) {
        id -> Text,
        conversation_id -> Text,
        operator_id -> Text,
        media -> Text,
        caller -> Text,
        state -> Text,
        outcome -> Nullable<Text>,
        ended_by -> Nullable<Text>,
        guest_tab -> Nullable<Text>,
        operator_tab -> Nullable<Text>,
        created_at -> Timestamp,
        answered_at -> Nullable<Timestamp>,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(memberships -> sites (site_id));
diesel::joinable!(memberships -> operators (operator_id));
diesel::joinable!(console_sessions -> operators (operator_id));
diesel::joinable!(visitors -> sites (site_id));
diesel::joinable!(page_views -> visitors (visitor_id));
diesel::joinable!(conversations -> sites (site_id));
diesel::joinable!(messages -> conversations (conversation_id));
diesel::joinable!(attachments -> conversations (conversation_id));
diesel::joinable!(canned_responses -> sites (site_id));
diesel::joinable!(invitations -> visitors (visitor_id));
diesel::joinable!(webhooks -> sites (site_id));
diesel::joinable!(domain_claims -> sites (site_id));
diesel::joinable!(refused_origins -> sites (site_id));
diesel::joinable!(calls -> conversations (conversation_id));

diesel::allow_tables_to_appear_in_same_query!(
    sites,
    calls,
    operators,
    memberships,
    console_sessions,
    setup_tokens,
    visitors,
    page_views,
    conversations,
    messages,
    attachments,
    canned_responses,
    invitations,
    webhooks,
    notification_outbox,
    used_signatures,
    domain_claims,
    refused_origins,
);
