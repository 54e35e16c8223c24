-- The public gallery: people (no passwords), their credentials, published posts, likes,
-- follows, reports, and which canvases were remixed from which post.

-- A person is who they are in the gallery; how they prove it lives in ``credentials``,
-- so OAuth or e-mail sign-in can be added later as more rows, not a new table.
CREATE TABLE people (
    id text PRIMARY KEY,
    handle text NOT NULL CHECK (handle ~ '^[a-z0-9_]{3,30}$'),
    display_name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX people_handle_lower ON people (lower(handle));

-- kind 'secret': the SHA-256 of a random identity secret kept in the person's cookie.
-- Later kinds: 'oauth' (provider + subject) and 'email' (subject = the address).
CREATE TABLE credentials (
    id bigserial PRIMARY KEY,
    person_id text NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('secret', 'oauth', 'email')),
    secret_hash bytea,
    provider text,
    subject text,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    CHECK ((kind = 'secret') = (secret_hash IS NOT NULL)),
    CHECK (kind = 'secret' OR subject IS NOT NULL)
);

CREATE UNIQUE INDEX credentials_secret_hash ON credentials (secret_hash)
    WHERE secret_hash IS NOT NULL;
CREATE UNIQUE INDEX credentials_subject ON credentials (kind, coalesce(provider, ''), subject)
    WHERE subject IS NOT NULL;
CREATE INDEX credentials_person ON credentials (person_id);

-- A published image. ``lineage`` is the story that led to it (JSON list of steps, root
-- first) and every image it names was copied under ``posts/{id}/``: editing or deleting
-- the canvas changes nothing here. ``room_id`` is where it came from (no foreign key:
-- the post outlives the canvas).
CREATE TABLE posts (
    id text PRIMARY KEY,
    author_id text NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    room_id text NOT NULL,
    block_id text NOT NULL,
    title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 120),
    description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 2000),
    include_prompts boolean NOT NULL,
    lineage jsonb NOT NULL,
    image_key text NOT NULL,
    image_width integer NOT NULL,
    image_height integer NOT NULL,
    image_mime text NOT NULL,
    parent_post_id text REFERENCES posts (id) ON DELETE SET NULL,
    like_count integer NOT NULL DEFAULT 0 CHECK (like_count >= 0),
    report_count integer NOT NULL DEFAULT 0 CHECK (report_count >= 0),
    hidden boolean NOT NULL DEFAULT false,
    deleted boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Keyset pagination: newest first, top by likes, and per author.
CREATE INDEX posts_listed_new ON posts (created_at DESC, id DESC)
    WHERE NOT hidden AND NOT deleted;
CREATE INDEX posts_listed_top ON posts (like_count DESC, created_at DESC, id DESC)
    WHERE NOT hidden AND NOT deleted;
CREATE INDEX posts_listed_author ON posts (author_id, created_at DESC, id DESC)
    WHERE NOT hidden AND NOT deleted;

CREATE TABLE post_likes (
    post_id text NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    person_id text NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, person_id)
);

CREATE INDEX post_likes_person ON post_likes (person_id);

CREATE TABLE post_reports (
    post_id text NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    person_id text NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    reason text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, person_id)
);

CREATE TABLE follows (
    follower_id text NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    followee_id text NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
);

CREATE INDEX follows_followee ON follows (followee_id);

-- A canvas made by remixing a post: posts published from it link back to that post.
CREATE TABLE room_remixes (
    room_id text PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
    post_id text NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);
