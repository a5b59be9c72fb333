/** The Content-Type of a request as an error message may show it: the media type, never its parameters or free text. */

const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/;

/**
 * `text/plain` for `text/plain; charset=utf-8`; a header that is not a media type (any text a
 * client chose to send) is described, not repeated, so an error body never carries it back.
 */
export function shownContentType(header: string | undefined): string {
  if (header === undefined || header.trim() === "") return "(none)";
  const essence = (header.split(";")[0] ?? "").trim().toLowerCase();
  return MEDIA_TYPE.test(essence) ? essence : "(not a media type)";
}
