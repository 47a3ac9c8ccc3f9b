DROP INDEX page_views_site;
