/** The live channel of a person's new notifications (written by the database's trigger on "Notification"). */
export const notificationsChannel = (userId: string) => `notifications:${userId}`;

/** What the channel carries per new notification; clients re-read the list for the rest. */
export interface NotificationEvent {
  type: "notification";
  id: string;
  kind: string;
  title: string;
}
