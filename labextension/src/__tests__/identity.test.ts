import { describe, expect, it } from 'vitest';

import { safeAvatarUrl, safeColor, safeInitials, safeText, sameUser, sanitizeUser } from '../identity';

describe('safeColor', () => {
  it('keeps plain colours and theme variables', () => {
    for (const ok of [
      '#abc',
      '#abcd',
      '#A1B2C3',
      '#a1b2c3d4',
      'rgb(1, 2, 3)',
      'rgba(1,2,3,0.5)',
      'rgb(1 2 3 / 50%)',
      'hsl(120deg 50% 50%)',
      'oklch(0.7 0.1 200)',
      'rebeccapurple',
      'var(--jp-collaborator-color3)'
    ]) {
      expect(safeColor(ok)).toBe(ok);
    }
    expect(safeColor('  #fff ')).toBe('#fff');
  });

  it('drops anything that could end a declaration, load something or hide a value', () => {
    for (const bad of [
      'red; background: url(//evil.example/t.png)',
      'url(https://evil.example/x)',
      'red!important',
      'expression(alert(1))',
      '#fff"><img src=x onerror=alert(1)>',
      "#fff'",
      'var(--a, url(x))',
      'var(--x);color:red',
      'rgb(1,2,3);}body{display:none}',
      'rgb(calc(1),2,3)',
      'image-set("x.png" 1x)',
      '\\72 ed',
      '#ggg',
      '#12345',
      'inherit',
      'currentColor',
      '',
      'a'.repeat(200),
      null,
      undefined,
      42,
      { toString: () => 'red' }
    ]) {
      expect(safeColor(bad)).toBeNull();
    }
  });
});

describe('identity fields', () => {
  it('avatars: http(s) or this server only, nothing that leaves an attribute or a url()', () => {
    expect(safeAvatarUrl('https://example.org/a.png')).toBe('https://example.org/a.png');
    expect(safeAvatarUrl('/hub/avatar/alice')).toBe('/hub/avatar/alice');
    for (const bad of [
      'javascript:alert(1)',
      'data:image/svg+xml,<svg onload=alert(1)>',
      '//evil.example/x',
      'https://evil.example/x" onerror="alert(1)',
      'https://evil.example/x) , url(y',
      'https://e.example/a b',
      'relative/path.png',
      42
    ]) {
      expect(safeAvatarUrl(bad)).toBeNull();
    }
  });

  it('texts: no control characters, bounded; initials two letters', () => {
    expect(safeText('Ann\u0000\u202e\nLee')).toBe('Ann Lee');
    expect(safeText('evil\u202egnp.exe')).toBe('evil gnp.exe');
    expect(safeText('x'.repeat(500))).toHaveLength(200);
    expect(safeText('   ')).toBeUndefined();
    expect(safeText(5)).toBeUndefined();
    expect(safeInitials('ABCD')).toBe('AB');
    expect(safeInitials('😀😀😀')).toBe('😀😀');
    expect(safeInitials(' ')).toBeUndefined();
  });

  it('a whole identity, checked field by field', () => {
    const user = sanitizeUser({
      username: 'eve',
      name: 'Eve',
      display_name: 'Eve <b>',
      initials: 'EVIL',
      color: 'red;background:url(//x)',
      avatar_url: 'javascript:alert(1)',
      extra: 'ignored'
    });
    expect(user).toEqual({
      username: 'eve',
      name: 'Eve',
      display_name: 'Eve <b>',
      initials: 'EV',
      color: null,
      avatar_url: null
    });
    expect(sanitizeUser({ color: '#fff' })).toBeNull();
    expect(sanitizeUser('alice')).toBeNull();
    expect(sameUser(user, sanitizeUser({ ...user }))).toBe(true);
    expect(sameUser(user, { ...user!, color: '#000' })).toBe(false);
  });
});
