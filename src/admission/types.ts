// AdmissionReview as the API server sends it (admission.k8s.io/v1 and v1beta1 share this shape
// for everything podpattern reads and writes). Only the fields we use are typed precisely.

export const ADMISSION_API_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
export type AdmissionApiVersion = (typeof ADMISSION_API_VERSIONS)[number];

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource?: GroupVersionResource;
  subResource?: string;
  name?: string;
  namespace?: string;
  /** An Operation from the API server; any other string is carried as it came. */
  operation?: string;
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
  userInfo?: { username?: string; uid?: string; groups?: string[] };
  [key: string]: unknown;
}

/** A metav1.Status, as much of it as an admission response carries. */
export interface ApiStatus {
  code: number;
  message: string;
  reason?: string;
  details?: { causes?: { reason: string; message: string; field?: string }[] };
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: ApiStatus;
  patchType?: 'JSONPatch';
  /** base64 of the JSON-encoded RFC 6902 operations. */
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReview<T = AdmissionRequest | AdmissionResponse> {
  apiVersion: AdmissionApiVersion;
  kind: 'AdmissionReview';
  request?: T extends AdmissionRequest ? AdmissionRequest : never;
  response?: T extends AdmissionResponse ? AdmissionResponse : never;
}

/** A request that passed `readAdmissionReview`. */
export interface IncomingReview {
  apiVersion: AdmissionApiVersion;
  request: AdmissionRequest;
}

export interface OutgoingReview {
  apiVersion: AdmissionApiVersion;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}
