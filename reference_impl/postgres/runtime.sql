-- Functions the translated schemas call, made in a location's schema before its
-- first migration (SQLite has them built in).

-- SQLite's json_valid(text): 1 when the text parses as JSON.
CREATE OR REPLACE FUNCTION json_valid(value text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM value::json;
    RETURN true;
EXCEPTION WHEN invalid_text_representation THEN
    RETURN false;
END
$$;

-- The FTS5 'ascii' tokenizer, which is the spec's token rule: runs of ASCII
-- letters and digits and of non-ASCII characters, ASCII letters folded to lower
-- case.  Everything else in ASCII separates tokens (the NUL escape's \x01 and
-- \x02 included).  The tokens become tsvector lexemes unstemmed, each cut to its
-- first 500 characters (a lexeme holds at most 2,046 bytes; array_to_tsvector
-- silently wraps a longer one), which the search code knows (LEXEME_CHARACTERS).
CREATE OR REPLACE FUNCTION fts_ascii_tokens(value text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT array_to_tsvector(ARRAY(
        SELECT left(token, 500) FROM unnest(regexp_split_to_array(
            translate(value, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'),
            '[\x01-\x2f\x3a-\x60\x7b-\x7f]+')) AS token
        WHERE token <> ''))
$$;

-- A search: every query token a prefix of some token of the text.  The query
-- arrives as tsquery text ('tok':* & ...); SQL functions this small are inlined,
-- so a GIN index on the tsvector serves the match.
CREATE OR REPLACE FUNCTION fts_matches(tokens tsvector, query text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT tokens @@ query::tsquery $$;

CREATE OR REPLACE FUNCTION fts_rank(tokens tsvector, query text) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT ts_rank(tokens, query::tsquery)::double precision $$;
