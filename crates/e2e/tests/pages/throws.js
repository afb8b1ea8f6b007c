'use strict';
// Fails as a page's own script can: a console error and an exception nothing catches.
console.error('about to fail');
throw new Error('thrown by throws.js');
