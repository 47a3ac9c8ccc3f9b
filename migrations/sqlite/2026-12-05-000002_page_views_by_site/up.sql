-- The console home asks whether a site has seen any page view (its first-steps checklist).
CREATE INDEX page_views_site ON page_views (site_id, created_at);
