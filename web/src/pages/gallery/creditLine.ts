/** A post's credit line: "Grown by Alice with Bob and Cy" (the published image's author
 *  first), with those who had no name to show counted ("and 2 others"). Empty when no
 *  name is known. */
export function creditLine(credits: { names: string[]; others: number } | null | undefined): string {
  if (!credits || credits.names.length === 0) return ''
  const [first, ...rest] = credits.names
  const others = credits.others > 0 ? [`${credits.others} ${credits.others === 1 ? 'other' : 'others'}`] : []
  const withWhom = [...rest, ...others]
  if (withWhom.length === 0) return `Grown by ${first}`
  const tail = withWhom.length === 1 ? withWhom[0] : `${withWhom.slice(0, -1).join(', ')} and ${withWhom[withWhom.length - 1]}`
  return `Grown by ${first} with ${tail}`
}
