"""Full-text search: one search document per ticket, kept current by triggers.

`tickets_ticketsearchdocument` holds, for every ticket, a tsvector of its subject (weight A),
its customer's names, email addresses and phone numbers and its orders' numbers (weight A, as
exact lexemes, language-neutral) and the text of its messages (weight C), the words stemmed with
the ticket's language (English, Spanish, Romanian; other languages unstemmed) and accents folded.

Triggers rather than writes in Python: messages, tickets and customers are written by the ORM, by
the set-based batch ingest (bulk_create), by merges (queryset updates) and by bulk loads; a trigger
sees all of them. Statement-level triggers with transition tables keep a batch insert to one
update of the documents. See tickets/search/__init__.py.
"""

import django.db.models.deletion
from django.contrib.postgres.search import SearchVectorField
from django.db import migrations, models

FUNCTIONS = r"""
-- Lower case, accents removed: "Envío" is "envio", "Comandă" is "comanda". The embedded server has no
-- unaccent extension; canonical decomposition (NFD) then dropping the combining marks does the same
-- for every accented Latin letter. Plain ASCII text (most of it) skips both. Keep in step with
-- tickets/search/folding.py (a test checks that both fold alike).
CREATE OR REPLACE FUNCTION helpdesk_search_fold(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT CASE WHEN value ~ '^[[:ascii:]]*$' THEN lower(value)
    ELSE lower(regexp_replace(normalize(value, NFD), '[\u0300-\u036f]', '', 'g')) END $$;

CREATE OR REPLACE FUNCTION helpdesk_search_config(language text) RETURNS regconfig
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE lower(left(coalesce(language, ''), 2))
    WHEN 'en' THEN 'pg_catalog.english'::regconfig
    WHEN 'es' THEN 'pg_catalog.spanish'::regconfig
    WHEN 'ro' THEN 'pg_catalog.romanian'::regconfig
    ELSE 'pg_catalog.simple'::regconfig END $$;

-- The exact lexemes of a name, an email address, a phone number or an order number.
CREATE OR REPLACE FUNCTION helpdesk_search_terms(kind text, value text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    folded text := helpdesk_search_fold(coalesce(value, ''));
    digits text;
    local_part text;
BEGIN
    IF folded = '' THEN
        RETURN '{}';
    ELSIF kind = 'email' THEN
        local_part := split_part(folded, '@', 1);
        RETURN ARRAY[folded, local_part, split_part(folded, '@', 2)]
            || regexp_split_to_array(local_part, '[[:space:][:punct:]]+');
    ELSIF kind = 'phone' THEN
        -- Every ending of 6 digits or more: "600111222" finds +34 600 111 222.
        digits := regexp_replace(folded, '\D', '', 'g');
        IF length(digits) < 6 THEN
            RETURN ARRAY[digits];
        END IF;
        RETURN ARRAY(SELECT right(digits, n) FROM generate_series(6, length(digits)) AS n);
    ELSIF kind = 'order' THEN
        RETURN ARRAY[folded, ltrim(folded, '#'), regexp_replace(folded, '\D', '', 'g')];
    ELSIF kind = 'name' THEN
        RETURN regexp_split_to_array(folded, '[[:space:][:punct:]]+');
    END IF;
    RETURN '{}';
END $$;

-- Exact lexemes (weight A), each also marked with "~": a prefix query on the marked ones ('~mar':*)
-- finds names, addresses, phone numbers and order numbers by their start, never message words, and
-- needs no weight check (so the GIN index answers it without rechecking documents).
CREATE OR REPLACE FUNCTION helpdesk_search_lexemes(terms text[]) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(string_agg('''' || escaped || ''':1A ''~' || escaped || ''':1A', ' '), '')::tsvector
    FROM (SELECT DISTINCT replace(replace(left(term, 200), '\', '\\'), '''', '''''') AS escaped
          FROM unnest(terms) AS term WHERE term <> '') AS distinct_terms
$$;

CREATE OR REPLACE FUNCTION helpdesk_search_people(customer bigint) RETURNS tsvector
LANGUAGE sql STABLE
AS $$
    SELECT helpdesk_search_lexemes(
        helpdesk_search_terms('name', c.name) || helpdesk_search_terms('email', c.email)
        || helpdesk_search_terms('phone', c.phone)
        || coalesce((
            SELECT array_agg(term) FROM tickets_channelidentity AS i,
            LATERAL unnest(
                helpdesk_search_terms(CASE
                    WHEN i.kind IN ('email', 'amazon_relay') THEN 'email'
                    WHEN i.kind IN ('phone', 'whatsapp') THEN 'phone'
                    WHEN i.kind = 'ebay_user' THEN 'name' END, i.value)
                || helpdesk_search_terms('name', i.display_name)) AS term
            WHERE i.customer_id = c.id), '{}'))
    FROM tickets_customer AS c WHERE c.id = customer
$$;

CREATE OR REPLACE FUNCTION helpdesk_search_orders(ticket bigint) RETURNS tsvector
LANGUAGE sql STABLE
AS $$
    SELECT helpdesk_search_lexemes(coalesce(array_agg(term), '{}'))
    FROM tickets_ticket_orders AS link
    JOIN tickets_order AS o ON o.id = link.order_id,
    LATERAL unnest(helpdesk_search_terms('order', o.number) || helpdesk_search_terms('order', o.external_id)) AS term
    WHERE link.ticket_id = ticket
$$;

-- The searchable text of a message: what the customer or agent wrote, without quoted history.
CREATE OR REPLACE FUNCTION helpdesk_search_message_text(visible_text text, body_text text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT left(coalesce(nullif(visible_text, ''), body_text, ''), 20000) $$;

-- (Re)build the whole document of these tickets.
CREATE OR REPLACE FUNCTION helpdesk_search_build(ticket_ids bigint[]) RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO tickets_ticketsearchdocument (ticket_id, document)
    SELECT t.id,
        setweight(to_tsvector(cfg.config, helpdesk_search_fold(t.subject)), 'A')
        || coalesce(helpdesk_search_people(t.customer_id), '')
        || helpdesk_search_orders(t.id)
        || setweight(to_tsvector(cfg.config, coalesce(helpdesk_search_fold((
            SELECT string_agg(helpdesk_search_message_text(m.visible_text, m.body_text), E'\n'
                              ORDER BY m.created_at, m.id)
            FROM tickets_message AS m WHERE m.ticket_id = t.id)), '')), 'C')
    FROM tickets_ticket AS t
    LEFT JOIN tickets_customer AS c ON c.id = t.customer_id
    CROSS JOIN LATERAL (SELECT helpdesk_search_config(coalesce(nullif(t.language, ''), c.language)) AS config) AS cfg
    WHERE t.id = ANY(ticket_ids)
    ON CONFLICT (ticket_id) DO UPDATE SET document = EXCLUDED.document
$$;

-- The query for one word the agent typed: its stems in every language and the word itself (each
-- alternative once), and for names, emails, phones and order numbers the word as the start of an
-- exact lexeme ('~word':*). A stop word of any of the languages gives NULL: it is left out, as
-- it is not in that language's documents.
CREATE OR REPLACE FUNCTION helpdesk_search_term(word text, prefix boolean) RETURNS tsquery
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    folded text := helpdesk_search_fold(word);
    variants tsquery[] := ARRAY[
        plainto_tsquery('pg_catalog.english', folded), plainto_tsquery('pg_catalog.spanish', folded),
        plainto_tsquery('pg_catalog.romanian', folded), plainto_tsquery('pg_catalog.simple', folded)];
    alternatives text;
BEGIN
    IF numnode(variants[1]) = 0 OR numnode(variants[2]) = 0 OR numnode(variants[3]) = 0 THEN
        RETURN NULL;
    END IF;
    SELECT string_agg(DISTINCT '(' || variant::text || ')', ' | ') INTO alternatives
    FROM unnest(variants) AS variant WHERE numnode(variant) > 0;
    IF prefix THEN
        alternatives := alternatives || ' | ''~' || replace(replace(folded, '\', '\\'), '''', '''''') || ''':*';
    END IF;
    RETURN alternatives::tsquery;
END $$;

CREATE OR REPLACE FUNCTION helpdesk_search_query(words text[], prefixes boolean[]) RETURNS tsquery
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    result tsquery;
    term tsquery;
BEGIN
    FOR i IN 1 .. coalesce(array_length(words, 1), 0) LOOP
        term := helpdesk_search_term(words[i], coalesce(prefixes[i], false));
        IF term IS NOT NULL THEN
            result := CASE WHEN result IS NULL THEN term ELSE result && term END;
        END IF;
    END LOOP;
    RETURN result;
END $$;

-- The tickets whose document matches, among those with an id above `floor` (the newest ones):
-- always through the GIN index, with the id range as a second bitmap for common words. The
-- settings keep the planner from walking a b-tree and testing every document instead, which its
-- estimates for rare words and prefixes sometimes prefer (seconds instead of milliseconds).
CREATE OR REPLACE FUNCTION helpdesk_search_matches(query tsquery, floor bigint) RETURNS SETOF bigint
LANGUAGE plpgsql STABLE ROWS 1000
SET enable_indexscan = off SET enable_seqscan = off SET enable_indexonlyscan = off
AS $$
BEGIN
    RETURN QUERY EXECUTE
        'SELECT ticket_id FROM tickets_ticketsearchdocument WHERE document @@ $1 AND ticket_id > $2'
        USING query, floor;
END $$;
"""

TRIGGERS = r"""
CREATE OR REPLACE FUNCTION helpdesk_search_messages_added() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE tickets_ticketsearchdocument AS d SET document = d.document || added.vector
    FROM (
        SELECT n.ticket_id, setweight(to_tsvector(
            helpdesk_search_config(coalesce(nullif(t.language, ''), c.language)),
            helpdesk_search_fold(string_agg(helpdesk_search_message_text(n.visible_text, n.body_text), E'\n'
                                            ORDER BY n.created_at, n.id))), 'C') AS vector
        FROM new_messages AS n
        JOIN tickets_ticket AS t ON t.id = n.ticket_id
        LEFT JOIN tickets_customer AS c ON c.id = t.customer_id
        GROUP BY n.ticket_id, t.language, c.language
    ) AS added
    WHERE d.ticket_id = added.ticket_id AND added.vector <> ''::tsvector;
    PERFORM helpdesk_search_build(ARRAY(
        SELECT DISTINCT n.ticket_id FROM new_messages AS n
        WHERE NOT EXISTS (SELECT 1 FROM tickets_ticketsearchdocument AS d WHERE d.ticket_id = n.ticket_id)));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION helpdesk_search_messages_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM helpdesk_search_build(ARRAY(SELECT DISTINCT ticket_id FROM old_messages));
    ELSE
        PERFORM helpdesk_search_build(ARRAY(
            SELECT DISTINCT unnest(ARRAY[o.ticket_id, n.ticket_id])
            FROM old_messages AS o JOIN new_messages AS n ON n.id = o.id
            WHERE o.ticket_id <> n.ticket_id OR o.body_text IS DISTINCT FROM n.body_text
               OR o.visible_text IS DISTINCT FROM n.visible_text));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION helpdesk_search_tickets_added() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM helpdesk_search_build(ARRAY(SELECT id FROM new_tickets));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION helpdesk_search_ticket_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM helpdesk_search_build(ARRAY[NEW.id]);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION helpdesk_search_customer_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM helpdesk_search_build(ARRAY(SELECT id FROM tickets_ticket WHERE customer_id = NEW.id));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION helpdesk_search_identities_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    customers bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        customers := ARRAY(SELECT DISTINCT customer_id FROM new_identities);
    ELSIF TG_OP = 'DELETE' THEN
        customers := ARRAY(SELECT DISTINCT customer_id FROM old_identities);
    ELSE
        customers := ARRAY(
            SELECT DISTINCT unnest(ARRAY[o.customer_id, n.customer_id])
            FROM old_identities AS o JOIN new_identities AS n ON n.id = o.id
            WHERE o.customer_id <> n.customer_id OR o.value <> n.value OR o.display_name <> n.display_name
               OR o.kind <> n.kind);
    END IF;
    IF cardinality(customers) > 0 THEN
        PERFORM helpdesk_search_build(ARRAY(SELECT id FROM tickets_ticket WHERE customer_id = ANY(customers)));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION helpdesk_search_orders_linked() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE tickets_ticketsearchdocument AS d SET document = d.document || linked.vector
        FROM (
            SELECT l.ticket_id, helpdesk_search_lexemes(array_agg(term)) AS vector
            FROM new_links AS l JOIN tickets_order AS o ON o.id = l.order_id,
            LATERAL unnest(helpdesk_search_terms('order', o.number) || helpdesk_search_terms('order', o.external_id)) AS term
            GROUP BY l.ticket_id
        ) AS linked
        WHERE d.ticket_id = linked.ticket_id;
    ELSE
        PERFORM helpdesk_search_build(ARRAY(SELECT DISTINCT ticket_id FROM old_links));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION helpdesk_search_order_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM helpdesk_search_build(ARRAY(SELECT ticket_id FROM tickets_ticket_orders WHERE order_id = NEW.id));
    RETURN NULL;
END $$;

CREATE TRIGGER helpdesk_search_message_insert AFTER INSERT ON tickets_message
    REFERENCING NEW TABLE AS new_messages FOR EACH STATEMENT EXECUTE FUNCTION helpdesk_search_messages_added();
CREATE TRIGGER helpdesk_search_message_update AFTER UPDATE ON tickets_message
    REFERENCING OLD TABLE AS old_messages NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION helpdesk_search_messages_changed();
CREATE TRIGGER helpdesk_search_message_delete AFTER DELETE ON tickets_message
    REFERENCING OLD TABLE AS old_messages FOR EACH STATEMENT EXECUTE FUNCTION helpdesk_search_messages_changed();
CREATE TRIGGER helpdesk_search_ticket_insert AFTER INSERT ON tickets_ticket
    REFERENCING NEW TABLE AS new_tickets FOR EACH STATEMENT EXECUTE FUNCTION helpdesk_search_tickets_added();
CREATE TRIGGER helpdesk_search_ticket_update AFTER UPDATE OF subject, customer_id, language ON tickets_ticket
    FOR EACH ROW WHEN (OLD.subject IS DISTINCT FROM NEW.subject OR OLD.customer_id IS DISTINCT FROM NEW.customer_id
                       OR OLD.language IS DISTINCT FROM NEW.language)
    EXECUTE FUNCTION helpdesk_search_ticket_changed();
CREATE TRIGGER helpdesk_search_customer_update AFTER UPDATE OF name, email, phone, language ON tickets_customer
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.email IS DISTINCT FROM NEW.email
                       OR OLD.phone IS DISTINCT FROM NEW.phone OR OLD.language IS DISTINCT FROM NEW.language)
    EXECUTE FUNCTION helpdesk_search_customer_changed();
CREATE TRIGGER helpdesk_search_identity_insert AFTER INSERT ON tickets_channelidentity
    REFERENCING NEW TABLE AS new_identities FOR EACH STATEMENT EXECUTE FUNCTION helpdesk_search_identities_changed();
CREATE TRIGGER helpdesk_search_identity_update AFTER UPDATE ON tickets_channelidentity
    REFERENCING OLD TABLE AS old_identities NEW TABLE AS new_identities
    FOR EACH STATEMENT EXECUTE FUNCTION helpdesk_search_identities_changed();
CREATE TRIGGER helpdesk_search_identity_delete AFTER DELETE ON tickets_channelidentity
    REFERENCING OLD TABLE AS old_identities FOR EACH STATEMENT EXECUTE FUNCTION helpdesk_search_identities_changed();
CREATE TRIGGER helpdesk_search_order_link AFTER INSERT ON tickets_ticket_orders
    REFERENCING NEW TABLE AS new_links FOR EACH STATEMENT EXECUTE FUNCTION helpdesk_search_orders_linked();
CREATE TRIGGER helpdesk_search_order_unlink AFTER DELETE ON tickets_ticket_orders
    REFERENCING OLD TABLE AS old_links FOR EACH STATEMENT EXECUTE FUNCTION helpdesk_search_orders_linked();
CREATE TRIGGER helpdesk_search_order_update AFTER UPDATE OF number, external_id ON tickets_order
    FOR EACH ROW WHEN (OLD.number IS DISTINCT FROM NEW.number OR OLD.external_id IS DISTINCT FROM NEW.external_id)
    EXECUTE FUNCTION helpdesk_search_order_changed();
"""

DROP_TRIGGERS = r"""
DROP TRIGGER IF EXISTS helpdesk_search_message_insert ON tickets_message;
DROP TRIGGER IF EXISTS helpdesk_search_message_update ON tickets_message;
DROP TRIGGER IF EXISTS helpdesk_search_message_delete ON tickets_message;
DROP TRIGGER IF EXISTS helpdesk_search_ticket_insert ON tickets_ticket;
DROP TRIGGER IF EXISTS helpdesk_search_ticket_update ON tickets_ticket;
DROP TRIGGER IF EXISTS helpdesk_search_customer_update ON tickets_customer;
DROP TRIGGER IF EXISTS helpdesk_search_identity_insert ON tickets_channelidentity;
DROP TRIGGER IF EXISTS helpdesk_search_identity_update ON tickets_channelidentity;
DROP TRIGGER IF EXISTS helpdesk_search_identity_delete ON tickets_channelidentity;
DROP TRIGGER IF EXISTS helpdesk_search_order_link ON tickets_ticket_orders;
DROP TRIGGER IF EXISTS helpdesk_search_order_unlink ON tickets_ticket_orders;
DROP TRIGGER IF EXISTS helpdesk_search_order_update ON tickets_order;
"""

CREATE_TABLE = """
CREATE TABLE tickets_ticketsearchdocument (
    ticket_id bigint PRIMARY KEY REFERENCES tickets_ticket (id) ON DELETE CASCADE,
    document tsvector NOT NULL
);
"""

# Built after the documents are filled: one index build instead of a million insertions.
BACKFILL = """
SELECT helpdesk_search_build(ARRAY(SELECT id FROM tickets_ticket));
CREATE INDEX ticketsearch_document ON tickets_ticketsearchdocument USING gin (document);
"""


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0011_inbox'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='TicketSearchDocument',
                    fields=[
                        ('ticket', models.OneToOneField(
                            on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True,
                            related_name='search_document', serialize=False, to='tickets.ticket',
                            db_constraint=False, verbose_name='ticket')),
                        ('document', SearchVectorField(verbose_name='search document')),
                    ],
                    options={
                        'verbose_name': 'ticket search document',
                        'verbose_name_plural': 'ticket search documents',
                        'indexes': [],
                    },
                ),
            ],
            database_operations=[
                migrations.RunSQL(CREATE_TABLE, "DROP TABLE tickets_ticketsearchdocument"),
            ],
        ),
        migrations.RunSQL(
            FUNCTIONS,
            "DROP FUNCTION IF EXISTS helpdesk_search_matches, helpdesk_search_query, helpdesk_search_term, helpdesk_search_build, "
            "helpdesk_search_message_text, helpdesk_search_orders, helpdesk_search_people, helpdesk_search_lexemes, "
            "helpdesk_search_terms, helpdesk_search_config, helpdesk_search_fold",
        ),
        migrations.RunSQL(
            TRIGGERS,
            DROP_TRIGGERS + "DROP FUNCTION IF EXISTS helpdesk_search_messages_added, helpdesk_search_messages_changed, "
            "helpdesk_search_tickets_added, helpdesk_search_ticket_changed, helpdesk_search_customer_changed, "
            "helpdesk_search_identities_changed, helpdesk_search_orders_linked, helpdesk_search_order_changed",
        ),
        migrations.RunSQL(BACKFILL, "DROP INDEX IF EXISTS ticketsearch_document"),
    ]
