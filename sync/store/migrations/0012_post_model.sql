-- The model that made a post's image, as its author wrote it (issue 23, "post your own
-- art": an image made elsewhere). Free text, shown as "Made with {model}"; '' for posts
-- grown on a canvas. Bounded here as well as at the edge.
ALTER TABLE posts ADD COLUMN model text NOT NULL DEFAULT '' CHECK (char_length(model) <= 120);
